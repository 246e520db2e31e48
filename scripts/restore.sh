#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh: `bash scripts/restore.sh SRC` into an EMPTY database and media
# folder (DATABASE_URL, MEDIA_ROOT), then read every original back against its recorded SHA-256 and size.
set -euo pipefail
src="${1:?usage: restore.sh SRC}"
: "${DATABASE_URL:?DATABASE_URL must be set}"
media="${MEDIA_ROOT:?MEDIA_ROOT must be set}"
pg_restore --no-owner --exit-on-error --dbname "$DATABASE_URL" "$src/db.dump"
mkdir -p "$media"
rsync -a "$src/media/" "$media/"
python manage.py fixity_check
