"""One settings module, driven by environment variables.

Production is the default: every required value must be given, or start-up stops with ImproperlyConfigured
naming what is missing (NetBox's fail-fast rule). DJANGO_DEBUG=1 asks for the embedded trial setup instead
(`manage.py demo` and the tests ask for it): DEBUG on, SQLite and media under ./var, and a Celery broker that
needs no server (kombu's filesystem transport; Redis when REDIS_URL is set).

    DJANGO_DEBUG            0 (default: production) | 1 (the embedded trial setup)
    DJANGO_SECRET_KEY       required in production
    DJANGO_ALLOWED_HOSTS    comma-separated; required in production (DEBUG: loopback names only)
    DATABASE_URL            postgres://user:pass@host:5432/name; required in production (else SQLite)
    REDIS_URL               redis://host:6379/0 -> Celery broker; required in production
    CELERY_BROKER_URL       overrides REDIS_URL for the broker
    REDIS_CACHE_URL         the cache's Redis (e.g. redis://host:6379/1, apart from the broker's), default REDIS_URL
    COLORARCHIVE_VAR        folder for the SQLite file, media and the filesystem broker (default ./var)
    MEDIA_ROOT              local media folder (default $COLORARCHIVE_VAR/media)
    S3_BUCKET               use S3-compatible storage (django-storages) for media; with S3_ENDPOINT_URL,
                            S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_REGION
    COLORARCHIVE_WORK       worker scratch folder: film segments, training datasets (default $COLORARCHIVE_VAR/work)
    COLORARCHIVE_STALE_MINUTES  a running job silent this long is stale (requeue_stale), default 30
    COLORARCHIVE_HEARTBEAT_S    a working worker writes its job row's heartbeat this often, default 15
    COLORARCHIVE_WORKER_LOST_S  a running job whose heartbeat is this old lost its worker, default 60
    COLORARCHIVE_SEGMENT_FRAMES frames per film segment task, default 300
    COLORARCHIVE_ORIGINALS_CACHE_GB  room for a worker machine's copies of originals on remote storage (S3),
                            one per film for all its segments, least recently used evicted first; default 50
    EMAIL_HOST              SMTP server for notifications and password reset (with EMAIL_PORT, EMAIL_HOST_USER,
                            EMAIL_HOST_PASSWORD, EMAIL_USE_TLS, DEFAULT_FROM_EMAIL); unset: no mail is sent
    DJANGO_EMAIL_BACKEND    another Django mail backend (the demo: the console backend)
    COLORARCHIVE_URL        the portal's address, for links in emails (e.g. https://archive.example.org); its
                            host name is also the OAI-PMH repository's (oai:HOST:ITEM-ID; default the request's)
    COLORARCHIVE_IIIF_IMAGE_URL  the public address of the deep zoom tiles (IIIF Image API level 0), written into
                            each info.json; default $COLORARCHIVE_URL/iiif/image (http://localhost:8000 unset)
    COLORARCHIVE_SERVE_TILES 1 (default in DEBUG) | 0: Django itself serves /iiif/image/ from the media folder;
                            in production the proxy does (docker/nginx)
    COLORARCHIVE_OAI_NAME   the repository name OAI-PMH's Identify gives, default "Colorarchive"
    COLORARCHIVE_OAI_EMAIL  the address OAI-PMH's Identify gives harvesters, default DEFAULT_FROM_EMAIL
    COLORARCHIVE_INSTITUTION  the institution's name, written into every colorized file's metadata (XMP) and
                            the default credit line, default COLORARCHIVE_OAI_NAME
    COLORARCHIVE_C2PA_KEY   a PEM private key, as the workers see it: colorized files get a signed C2PA manifest
                            (Content Credentials) after all other metadata; empty (default): no manifest. Needs
                            the [c2pa] extra on the workers, and COLORARCHIVE_C2PA_CERT
    COLORARCHIVE_C2PA_CERT  its PEM certificate chain: the signing certificate first, then the CAs that issued it
                            (readers trust the manifest when the chain ends at a CA on their trust list)
    COLORARCHIVE_C2PA_ALG   the key's algorithm: es256 (default), es384, es512, ps256, ps384, ps512, ed25519
    COLORARCHIVE_C2PA_TSA_URL  an RFC 3161 timestamp authority for the signatures; empty (default): none
    COLORARCHIVE_PERSON_DETECTOR  weights of the retraining's person filter (YOLOv5n .onnx or an ultralytics
                            .pt), as the worker sees it; empty (default): the filter is unavailable
    COLORARCHIVE_HISTORICAL_PHOTOS  true-colour historical photographs a finished training run is scored on
                            (eval-historical), as the worker sees it; default ../shared/data/historical_color
                            beside the repository; a folder that is not there: the run stores no such figures
    COLORARCHIVE_REPLAY_DATASET  the frame dataset (colorize-train build) whose sample a fine-tuning run mixes
                            with the new material so the model does not forget, as the worker sees it; empty
                            (default): the dataset the default model was trained on, as its checkpoint names it
                            (relative to the repository); a folder that is not there: the run says it has no replay
    DJANGO_SECURE_COOKIES   1 (default in production) | 0: cookies only over HTTPS
    DJANGO_SSL_REDIRECT     1 (default in production) | 0: redirect plain HTTP to HTTPS
    DJANGO_HSTS_SECONDS     Strict-Transport-Security max-age in production, default 31536000 (a year)
    COLORARCHIVE_MAX_UPLOAD_MB  the most one request may send (all its files together), default 2048; the
                            proxy's client_max_body_size is generated from it (docker/nginx)
    COLORARCHIVE_MEDIA_ACCEL 1 | 0 (default): file downloads are sent by the proxy (X-Accel-Redirect)
    COLORARCHIVE_UPLOAD_TMP the one folder for spooled uploads (default $COLORARCHIVE_VAR/upload-tmp)
    COLORARCHIVE_MIN_FREE_MB    an upload or a stored file that would leave less free space than this on the
                            media store or the upload spool is refused at once (507), default 512; /health/
                            reports a disk below it as down
    COLORARCHIVE_BEHIND_PROXY  1 (default in production) | 0: the client address is the one the proxy appended
                            to X-Forwarded-For (login throttling counts per address)
    COLORARCHIVE_TOKEN_DAYS API tokens expire after this many days, default 30
    COLORARCHIVE_LOGIN_FAILURES  failed sign-ins (of one account from one address) before a lockout, default 5
    COLORARCHIVE_API_VISITOR_RATE  API calls per address without a token, default 300/minute (DRF's n/period)
    COLORARCHIVE_API_ACCOUNT_RATE  API calls per account with a token or session, default 1200/minute
    COLORARCHIVE_SWEEP_MINUTES  the sweeper sends previews missing this long, default 5
    COLORARCHIVE_SWEEP_EVERY_S  Celery beat runs the sweeper this often, default 30
    COLORARCHIVE_INCOMING_MINUTES  the hourly leftovers pass removes a half-written `.incoming-*` file (left by a
                            process killed while storing it) untouched this long, and sets aside a whole stored
                            file no row refers to (portal.storage.set_aside_unrecorded), default 60
    COLORARCHIVE_FIXITY_EVERY_S Celery beat runs the fixity check this often, default 86400 (daily)
    COLORARCHIVE_MAX_ATTEMPTS   a job whose worker was lost this many times fails with the reason, default 3
    COLORARCHIVE_DB_WAIT_S      a worker that lost the database waits this long for it to come back, default 300
    COLORARCHIVE_TRASH_DAYS     deleted items and results keep their files this long (purge_trash), and files set
                            aside by the leftovers pass wait this long in trash/unrecorded/, default 30
    COLORARCHIVE_PUBLIC_CACHE_S  anonymous visitors' pages and API pages are cached at most this long, default
                            300 (every change to the catalogue replaces them at once)

What the archive takes (file types, COLORARCHIVE_MAX_UPLOAD_MB, COLORARCHIVE_MAX_MEGAPIXELS) is declared once, for
the portal and the workers alike, in colorization/media/policy.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from colorization.media import policy as media_policy

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or default


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    return default if value is None else value.lower() in ("1", "true", "yes", "on")


DEBUG = env_bool("DJANGO_DEBUG", False)


def required(name: str, dev_default: str | None = None) -> str | None:
    """A value production must set; in DEBUG the embedded default applies."""
    value = env(name)
    if value is None and not DEBUG:
        raise ImproperlyConfigured(f"{name} must be set when DJANGO_DEBUG is off (see portal/settings.py)")
    return value if value is not None else dev_default


SECRET_KEY = required("DJANGO_SECRET_KEY", "dev-only-insecure-key-do-not-use-in-production")
# Empty in DEBUG means Django's loopback-only default (localhost, 127.0.0.1, [::1]); never every host.
ALLOWED_HOSTS = [h.strip() for h in (required("DJANGO_ALLOWED_HOSTS", "") or "").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in (env("DJANGO_CSRF_TRUSTED_ORIGINS") or "").split(",") if o.strip()]

VAR_DIR = Path(env("COLORARCHIVE_VAR", str(BASE_DIR / "var")))
WORK_DIR = Path(env("COLORARCHIVE_WORK", str(VAR_DIR / "work")))
STALE_MINUTES = int(env("COLORARCHIVE_STALE_MINUTES", "30"))
HEARTBEAT_SECONDS = float(env("COLORARCHIVE_HEARTBEAT_S", "15"))  # workers/runner.py writes job heartbeats
WORKER_LOST_SECONDS = float(env("COLORARCHIVE_WORKER_LOST_S", "60"))  # no heartbeat this long: worker lost
SEGMENT_FRAMES = int(env("COLORARCHIVE_SEGMENT_FRAMES", "300"))  # film frames per segment task
ORIGINALS_CACHE_BYTES = int(float(env("COLORARCHIVE_ORIGINALS_CACHE_GB", "50")) * 1024**3)  # workers/cache.py
PERSON_DETECTOR = env("COLORARCHIVE_PERSON_DETECTOR", "")
HISTORICAL_PHOTOS = Path(
    env("COLORARCHIVE_HISTORICAL_PHOTOS", str(BASE_DIR.parent / "shared" / "data" / "historical_color"))
)
REPLAY_DATASET = env("COLORARCHIVE_REPLAY_DATASET", "")
SWEEP_MINUTES = int(env("COLORARCHIVE_SWEEP_MINUTES", "5"))
INCOMING_MINUTES = float(
    env("COLORARCHIVE_INCOMING_MINUTES", "60")
)  # portal.storage.remove_incoming_leftovers
MAX_ATTEMPTS = int(env("COLORARCHIVE_MAX_ATTEMPTS", "3"))
DB_WAIT_SECONDS = float(env("COLORARCHIVE_DB_WAIT_S", "300"))  # a worker waits this long for a lost database
TRASH_DAYS = int(env("COLORARCHIVE_TRASH_DAYS", "30"))  # purge_trash removes trashed files after this long

# Mail (notifications, password reset): SMTP when EMAIL_HOST is set, or any backend named; else nothing is sent
# and the pages say so.
EMAIL_HOST = env("EMAIL_HOST", "")
EMAIL_PORT = int(env("EMAIL_PORT", "587"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env("EMAIL_USE_TLS", "1") == "1"
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "colorarchive@localhost")
EMAIL_BACKEND = env(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else ""
)
MAIL_CONFIGURED = bool(EMAIL_BACKEND)
EMAIL_BACKEND = EMAIL_BACKEND or "django.core.mail.backends.dummy.EmailBackend"
PORTAL_URL = env("COLORARCHIVE_URL", "")
# Deep zoom (portal/gallery/deepzoom.py): the public address of the IIIF Image API tile folders, written into
# each info.json by the worker; the proxy (or, in the embedded setup, Django) serves them as static files.
IIIF_IMAGE_URL = env(
    "COLORARCHIVE_IIIF_IMAGE_URL", f"{PORTAL_URL.rstrip('/') or 'http://localhost:8000'}/iiif/image"
).rstrip("/")
OAI_REPOSITORY_NAME = env("COLORARCHIVE_OAI_NAME", "Colorarchive")  # /oai (portal/gallery/oai.py)
OAI_ADMIN_EMAIL = env("COLORARCHIVE_OAI_EMAIL", DEFAULT_FROM_EMAIL)
INSTITUTION_NAME = env("COLORARCHIVE_INSTITUTION", OAI_REPOSITORY_NAME)  # in each colorized file's XMP
# Content Credentials (colorization/credentials.py): both files or neither; read by the workers when they sign
C2PA_KEY = env("COLORARCHIVE_C2PA_KEY", "")
C2PA_CERT = env("COLORARCHIVE_C2PA_CERT", "")
C2PA_ALGORITHM = env("COLORARCHIVE_C2PA_ALG", "es256").lower()
C2PA_TSA_URL = env("COLORARCHIVE_C2PA_TSA_URL", "")
if bool(C2PA_KEY) != bool(C2PA_CERT):
    raise ImproperlyConfigured(
        "COLORARCHIVE_C2PA_KEY and COLORARCHIVE_C2PA_CERT are set together or not at all"
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sitemaps",
    "rest_framework",
    "rest_framework.authtoken",
    "csp",
    "axes",
    "simple_history",
    "portal.catalog",
    "portal.jobs",
    "portal.gallery",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.front_door.FrontDoorMiddleware",  # before anything reads a body (the CSRF check does)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # who made a change, for the audit trail
    "portal.middleware.OutageMiddleware",  # database or broker down: 503 with a plain reason, never a 500
]

if not DEBUG:  # runserver serves static files in DEBUG; WhiteNoise does it in production
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "portal" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.catalog.permissions.roles",
                "portal.jobs.notify.unread",
                "portal.jobs.demo_progress.banner",
            ],
        },
    },
]

_database_url = required("DATABASE_URL")
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "colorarchive.sqlite3",
            # The web process and a worker write the same file: wait for the lock rather than fail.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses sign-ins while an account or address is locked out
    "django.contrib.auth.backends.ModelBackend",
]
# django-axes: sign-in throttling for /accounts/login/, /admin/login/ and /api/token/, per account at an address:
# a whole museum behind one NAT address is not locked out by one colleague's typos (guessing many accounts from
# one address is slowed by the token throttles and by each account's own count).
AXES_FAILURE_LIMIT = int(env("COLORARCHIVE_LOGIN_FAILURES", "5"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = 0.25  # hours; then the account may try again from that address
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "portal.front_door.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
BEHIND_PROXY = env_bool("COLORARCHIVE_BEHIND_PROXY", not DEBUG)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "catalog:dashboard"
LOGOUT_REDIRECT_URL = "gallery:home"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Files: originals, previews and results go through Django storages (local folder or S3-compatible).
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"  # never served directly: downloads go through permission-checking views
# Behind docker/nginx those views answer with X-Accel-Redirect and the proxy sends the bytes (portal.gallery.delivery).
MEDIA_ACCEL = env_bool("COLORARCHIVE_MEDIA_ACCEL", False)
# Deep zoom tiles are public static files under MEDIA_ROOT/iiif/image/, sent by the proxy; Django sends them
# only in the embedded trial setup (no proxy there).
SERVE_TILES = env_bool("COLORARCHIVE_SERVE_TILES", DEBUG)
STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]

if env("S3_BUCKET"):
    _media = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("S3_BUCKET"),
            "endpoint_url": env("S3_ENDPOINT_URL"),
            "access_key": required("S3_ACCESS_KEY_ID"),
            "secret_key": required("S3_SECRET_ACCESS_KEY"),
            "region_name": env("S3_REGION"),
            "file_overwrite": False,
            "default_acl": "private",
            "querystring_auth": True,
        },
    }
else:
    # Django's local storage, except that a write that fails (a full disk) keeps nothing (portal/storage.py)
    _media = {"BACKEND": "portal.storage.FileSystemStorage"}
STORAGES = {
    "default": _media,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
DATA_UPLOAD_MAX_NUMBER_FILES = 500
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# One request (all its files together) may send this much; larger ones get 413 from their Content-Length.
MAX_UPLOAD_BYTES = media_policy.MAX_UPLOAD_BYTES  # COLORARCHIVE_MAX_UPLOAD_MB, read once by the policy
# Uploads larger than FILE_UPLOAD_MAX_MEMORY_SIZE are spooled here; `manage.py sweep_uploads` removes leftovers.
FILE_UPLOAD_TEMP_DIR = Path(env("COLORARCHIVE_UPLOAD_TMP", str(VAR_DIR / "upload-tmp")))
FILE_UPLOAD_TEMP_DIR.mkdir(parents=True, exist_ok=True)
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "portal.storage.SpoolUploadHandler",  # a spool file whose writing failed (a full disk) is removed at once
]
# A write that would leave less free than this on the media store or the spool is refused before it starts.
MIN_FREE_BYTES = int(env("COLORARCHIVE_MIN_FREE_MB", "512")) * 2**20

# Celery: ids only, the DB row is the truth, no result backend.
_redis_url = env("REDIS_URL")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", _redis_url)
if not CELERY_BROKER_URL and not DEBUG:
    raise ImproperlyConfigured("REDIS_URL (or CELERY_BROKER_URL) must be set when DJANGO_DEBUG is off")
if not CELERY_BROKER_URL:
    # A broker that needs no server: messages are files in one folder, shared by the web process and worker.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Longer than any single task (segments keep tasks short), so acks_late never re-runs live work.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4 * 3600}
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_ROUTES = {
    "workers.tasks.colorize": {"queue": "gpu"},
    "workers.tasks.colorize_segment": {"queue": "gpu"},
    "workers.tasks.train": {"queue": "gpu"},
    "workers.tasks.preview_hints": {"queue": "preview"},  # quick, asked for by a person who waits for it
    "workers.tasks.*": {"queue": "cpu"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Recovery and fixity run on a schedule (`celery -A portal beat`, a service in docker/compose.yaml); RELIABILITY.md
CELERY_BEAT_SCHEDULE = {
    "sweep": {"task": "workers.tasks.sweep", "schedule": float(env("COLORARCHIVE_SWEEP_EVERY_S", "30"))},
    "remove-incoming-leftovers": {"task": "workers.tasks.remove_incoming_leftovers", "schedule": 3600.0},
    "purge-trash": {"task": "workers.tasks.purge_trash", "schedule": 24 * 3600.0},
    "fixity-check": {
        "task": "workers.tasks.fixity_check",
        "schedule": float(env("COLORARCHIVE_FIXITY_EVERY_S", "86400")),
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.tokens.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PARSER_CLASSES": [
        "portal.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # Every API call counts (portal.tokens: per address for visitors, per account with a token); /api/token/
    # has its own, smaller counts. Over the rate: 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["portal.tokens.ApiVisitorThrottle", "portal.tokens.ApiAccountThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token-address": "20/hour",
        "token-account": "10/hour",
        "api-visitor": env("COLORARCHIVE_API_VISITOR_RATE", "300/minute"),
        "api-account": env("COLORARCHIVE_API_ACCOUNT_RATE", "1200/minute"),
    },  # fmt: skip
    "NUM_PROXIES": 1 if BEHIND_PROXY else 0,
}
API_TOKEN_DAYS = int(env("COLORARCHIVE_TOKEN_DAYS", "30"))
# One cache shared by every web process and worker: throttle counts, and the public pages, whose version a
# worker's change bumps as well (portal/gallery/public_cache.py). Redis in production; without it (the demo) a
# folder under COLORARCHIVE_VAR, which the demo's web process and its workers share.
# An unreachable Redis answers within a second (a miss), not after the system's TCP timeout.
_cache_url = env("REDIS_CACHE_URL", _redis_url)
if _cache_url:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url,
                          "KEY_PREFIX": "colorarchive-cache",
                          "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}  # fmt: skip
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(VAR_DIR / "cache")}}  # fmt: skip
# How long an anonymous visitor's page, an API page or a count may be served from the cache; any change to the
# catalogue replaces them at once, so this only bounds what a change made around the ORM (raw SQL) leaves.
PUBLIC_CACHE_SECONDS = int(env("COLORARCHIVE_PUBLIC_CACHE_S", "300"))

# Content Security Policy (django-csp): every script and style is a file from this site; no inline code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "media-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

if not DEBUG:  # production sits behind the TLS proxy (docker/nginx), which sets X-Forwarded-Proto
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^health/$"]  # a load balancer probes the web process directly, over HTTP
    SECURE_HSTS_SECONDS = int(env("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}
