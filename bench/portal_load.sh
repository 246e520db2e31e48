#!/usr/bin/env bash
# The portal under load (figures in BENCHMARKS.md): production settings, gunicorn as docker/web.Dockerfile starts
# it, then Locust (bench/locustfile.py) with one client and with 20, loopback only, from an empty page cache.
#
#   DATABASE_URL=postgres://.../bench REDIS_URL=redis://127.0.0.1:6379/9 bench/portal_load.sh [seconds] [workers]
#
# The database must hold a catalogue seeded by bench/seed_portal.py. Results: out/portal-load/*.csv. Run as root
# to give the server and Locust priority over other work on a shared machine (nice -10), as BENCHMARKS.md did.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NICE=${BENCH_NICE:--10}
# With the kernel's autogroup scheduling a nice value counts only inside its session: the benchmark runs in a
# session of its own whose group gets the same priority (root only; elsewhere it runs as it is).
if [ -z "${BENCH_SESSION:-}" ] && [ -w /proc/self/autogroup ]; then
    BENCH_SESSION=1 exec setsid --wait "$0" "$@"
fi
if [ -w /proc/self/autogroup ]; then echo "$BENCH_NICE" >/proc/self/autogroup 2>/dev/null || true; fi
SECONDS_20=${1:-90}
WORKERS=${2:-3}
PORT=${BENCH_PORT:-8123}
OUT=out/portal-load
mkdir -p "$OUT"
: "${DATABASE_URL:?the seeded database}" "${REDIS_URL:?the cache (and broker) of production settings}"
export DJANGO_DEBUG=0 DJANGO_SECRET_KEY=${DJANGO_SECRET_KEY:-bench-only-secret-key-not-for-any-deployment-0123456789}
export DJANGO_ALLOWED_HOSTS=127.0.0.1 DJANGO_SSL_REDIRECT=0 DJANGO_SECURE_COOKIES=0 COLORARCHIVE_BEHIND_PROXY=0
export COLORARCHIVE_VAR=${COLORARCHIVE_VAR:-$PWD/$OUT/var} STATIC_ROOT=${STATIC_ROOT:-$PWD/$OUT/static}
NICE="nice -n $BENCH_NICE"
LOCUST=${LOCUST:-locust}  # the bench extra (pip install -e .[bench]), or one in a virtual environment of its own

python manage.py collectstatic --noinput -v 0
$NICE gunicorn portal.wsgi:application --bind "127.0.0.1:$PORT" --workers "$WORKERS" --timeout 300 \
    --access-logfile /dev/null --error-logfile "$OUT/gunicorn.log" --pid "$OUT/gunicorn.pid" --daemon
trap 'kill "$(cat "$OUT/gunicorn.pid")"' EXIT
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.2; done
empty_cache() { python -c "import django; django.setup(); from portal.gallery.public_cache import bump; bump()"; }

export DJANGO_SETTINGS_MODULE=portal.settings
empty_cache
echo "scheduling: $(cat /proc/self/autogroup 2>/dev/null || echo 'no autogroup'), processes at nice $BENCH_NICE"
echo "load before one client: $(cut -d' ' -f1-3 /proc/loadavg)"
$NICE "$LOCUST" -f bench/locustfile.py --headless -u 1 -r 1 -t 30s --host "http://127.0.0.1:$PORT" \
    --csv "$OUT/one" --only-summary 2>&1 | tail -n 14
empty_cache
echo "load before 20 clients: $(cut -d' ' -f1-3 /proc/loadavg)"
$NICE "$LOCUST" -f bench/locustfile.py --headless -u 20 -r 20 -t "${SECONDS_20}s" --host "http://127.0.0.1:$PORT" \
    --csv "$OUT/twenty" --only-summary 2>&1 | tail -n 24
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
