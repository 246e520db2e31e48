# The GPU worker: Celery with torch (CUDA wheels), serving the "gpu" queue (colorization, training).
# Build from the repository root:  docker build -f docker/worker-gpu.Dockerfile -t colorarchive-worker-gpu .
# Run with the NVIDIA container toolkit (compose.yaml reserves one GPU). The same image serves the "cpu"
# queue when started with `-Q cpu`.
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=portal.settings \
    PYTHONPATH=/app

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv python3-pip libglib2.0-0 libgl1 \
       libimage-exiftool-perl \
    && rm -rf /var/lib/apt/lists/* \
    && python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY colorization ./colorization
COPY training ./training
COPY portal ./portal
COPY workers ./workers
COPY static ./static
COPY manage.py ./
# torch's default PyPI wheels for Linux carry CUDA; [train] (which includes [ml]) for the retraining runs this
# worker takes. constraints.txt: the versions the tests passed with (scripts/freeze_constraints.py).
# hadolint ignore=DL3013
RUN pip install -c constraints.txt ".[web,ml,train,c2pa]"

RUN useradd --create-home --uid 1000 colorarchive && mkdir -p /app/var && chown colorarchive /app/var
USER colorarchive
ENV COLORARCHIVE_VAR=/app/var
# One process per GPU; prefetch 1 (settings) so a long film's segments spread over all GPU workers.
CMD ["celery", "-A", "portal", "worker", "-Q", "gpu", "--concurrency", "1", "--loglevel", "INFO"]
