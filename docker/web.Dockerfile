# The web process: Django + gunicorn, without torch (the portal never imports it).
# Build from the repository root:  docker build -f docker/web.Dockerfile -t colorarchive-web .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=portal.settings \
    PYTHONPATH=/app

# No system packages: the web extra's wheels carry their own libraries (OpenCV, which needed libgl/libglib, is
# in the ml extra now; the web process never imports it).
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY colorization ./colorization
COPY training ./training
COPY portal ./portal
COPY workers ./workers
COPY static ./static
COPY manage.py ./
# constraints.txt: the versions the tests passed with (scripts/freeze_constraints.py).
# hadolint ignore=DL3013
RUN pip install -c constraints.txt ".[web]"

# collectstatic needs settings that import cleanly; these values exist only for this build step.
RUN DJANGO_DEBUG=0 DJANGO_SECRET_KEY=build-only DJANGO_ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    STATIC_ROOT=/app/staticfiles python manage.py collectstatic --noinput

RUN useradd --create-home --uid 1000 colorarchive && mkdir -p /app/var && chown -R colorarchive /app/var
USER colorarchive
ENV STATIC_ROOT=/app/staticfiles COLORARCHIVE_VAR=/app/var
EXPOSE 8000
# Behind nginx, which buffers whole requests and answers, so no slow client holds a worker; 300 s for hashing and
# storing the largest upload once nginx hands it over.
CMD ["gunicorn", "portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "300", "--access-logfile", "-"]
