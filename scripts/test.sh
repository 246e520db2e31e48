#!/usr/bin/env bash
# Sets up everything the tests need and runs them: `bash scripts/test.sh [--fast] [pytest args]`.
#  --fast: the quick tier for development, every test but those marked slow (`-m "not slow"`: a real worker,
#    a browser, a training run); without it, the whole suite, as CI runs it.
#  - Debian packages: chromium (browser tests), exiftool (provenance checks), ffmpeg (codec checks), nginx
#    (`nginx -t` of the proxy's config)
#  - Python: this project with its [web,ml,train,dev,c2pa] extras, and iiif-prezi3 without its dependencies,
#    into the current interpreter, at the versions of constraints.txt (frozen from the environment the suite passes in by `python scripts/freeze_constraints.py`)
#  - services: PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 are used where they answer (started
#    here if installed but stopped); tests that need them skip with a reason where they are absent, or fail
#    where COLORARCHIVE_REQUIRE_SERVICES=1 (as .ci/run sets it: tests/support/services.py).
set -euo pipefail
cd "$(dirname "$0")/.."

tier=()
if [ "${1:-}" = "--fast" ]; then
  shift
  tier=(-m "not slow")
fi

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v exiftool >/dev/null || missing+=(libimage-exiftool-perl)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v nginx >/dev/null || missing+=(nginx)
command -v rsync >/dev/null || missing+=(rsync)
command -v pg_dump >/dev/null || missing+=(postgresql-client)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[web,ml,train,dev,c2pa]'
# the IIIF manifests' validator, for the tests only: without its Pillow<=12 requirement (pyproject.toml, [dev])
python3 -m pip install -q --disable-pip-version-check -c constraints.txt --no-deps iiif-prezi3

if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432 && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if command -v redis-server >/dev/null && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
fi

ruff check .
ruff format --check .
python3 -m pytest -q ${tier[@]+"${tier[@]}"} "$@"
