#!/usr/bin/env bash
# Back up the archive: `bash scripts/backup.sh DEST` (RELIABILITY.md, "Backup and restore").
#   DEST/db.dump       PostgreSQL, pg_dump's custom format (DATABASE_URL)
#   DEST/media/        the media storage: originals, previews, results, models (MEDIA_ROOT, a local folder;
#                      for S3 storage mirror the bucket instead: `mc mirror local/colorarchive DEST/media`)
#   DEST/catalog/      the metadata as CSV and JSON (manage.py export_catalog), readable without the software
# Run it from the project folder with the portal's environment.
set -euo pipefail
dest="${1:?usage: backup.sh DEST}"
: "${DATABASE_URL:?DATABASE_URL must be set}"
media="${MEDIA_ROOT:?MEDIA_ROOT must be set (for S3 storage see the comment above)}"
mkdir -p "$dest"
pg_dump --format=custom --no-owner --file "$dest/db.dump" "$DATABASE_URL"
rsync -a "$media/" "$dest/media/"
python manage.py export_catalog "$dest/catalog" >/dev/null
echo "backed up to $dest"
