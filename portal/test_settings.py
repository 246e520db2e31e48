"""Settings for pytest: the real PostgreSQL server when one answers on 127.0.0.1:5432, else SQLite.

Unit tests run Celery eagerly; the integration tests switch the app to a real broker (Redis) and start a
real worker process, passing it COLORARCHIVE_TEST_DATABASE_NAME and MEDIA_ROOT so it sees the same data.
"""

import os
import tempfile

os.environ.setdefault("DJANGO_DEBUG", "1")

from portal.settings import *  # noqa: E402,F403


def _postgres_url() -> str | None:
    """The machine's PostgreSQL (trust auth), as user postgres or root; None when it is not reachable."""
    if os.environ.get("COLORARCHIVE_TEST_DATABASE_URL"):
        return os.environ["COLORARCHIVE_TEST_DATABASE_URL"]
    if os.environ.get("COLORARCHIVE_TEST_SQLITE"):
        return None
    try:
        import psycopg
    except ImportError:
        return None
    # pytest-django creates test_test through the "postgres" maintenance database, so "test" need not exist.
    for user in ("postgres", "root"):
        for dbname in ("test", "postgres"):
            try:
                with psycopg.connect(f"postgres://{user}@127.0.0.1:5432/{dbname}", connect_timeout=2):
                    return f"postgres://{user}@127.0.0.1:5432/test"
            except Exception:
                continue
    return None


POSTGRES_URL = _postgres_url()
if POSTGRES_URL:
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(POSTGRES_URL)}
    # A worker subprocess opens the test database pytest-django created (test_<name>) directly.
    if os.environ.get("COLORARCHIVE_TEST_DATABASE_NAME"):
        DATABASES["default"]["NAME"] = os.environ["COLORARCHIVE_TEST_DATABASE_NAME"]
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or tempfile.mkdtemp(prefix="colorarchive-media-"))  # noqa: F405
WORK_DIR = Path(os.environ.get("COLORARCHIVE_WORK") or tempfile.mkdtemp(prefix="colorarchive-work-"))  # noqa: F405
# the historical photographs a training run is scored on: a folder a test fills (the worker shares WORK_DIR)
HISTORICAL_PHOTOS = WORK_DIR / "historical_color"
REPLAY_DATASET = str(WORK_DIR / "replay_frames")  # likewise the old frames a fine-tuning run replays
FILE_UPLOAD_TEMP_DIR = Path(tempfile.mkdtemp(prefix="colorarchive-upload-tmp-"))  # noqa: F405
STORAGES = {  # noqa: F405
    "default": {"BACKEND": "portal.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# A shared test machine's disk may hold less than production's reserve; the tests of the reserve set their own.
MIN_FREE_BYTES = 0
# Each test process its own cache (the default without Redis is a folder under ./var, shared by every run).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("COLORARCHIVE_TEST_CACHE_URL"):  # a fault test's worker: its private Redis, as production
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": os.environ["COLORARCHIVE_TEST_CACHE_URL"], "KEY_PREFIX": "colorarchive-cache",
                          "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}  # fmt: skip
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("COLORARCHIVE_TEST_WORKER")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if os.environ.get("COLORARCHIVE_TEST_REDIS_PREFIX"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": os.environ["COLORARCHIVE_TEST_REDIS_PREFIX"]}
LOGGING = {"version": 1, "disable_existing_loggers": False}
