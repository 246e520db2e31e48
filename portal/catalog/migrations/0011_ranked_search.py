"""Every Dublin Core field searched, and ranked full-text search on PostgreSQL.

- The date and the source archive join the searched fields (portal.catalog.models.SEARCHED_FIELDS), each with a
  trigram index on UPPER(colorarchive_unaccent(column)) as migration 0008 made for the others; the typo search
  (pg_trgm's `%>`, portal/gallery/search.py) is served by the same indexes.
- `search_document`: a stored generated tsvector of every field, unaccented, weighted A (title), B (people,
  place, subjects, creator), C (description, date), D (source archive, identifier), with a GIN index. The model
  does not declare it (SQLite has no tsvector; the search reads it with SQL there, portal/gallery/search.py), so
  Django never writes it: PostgreSQL keeps it up to date on every insert and update.

SQLite: nothing (the Python unaccent function serves the search, and relevance is a weighted count of fields).
"""

import logging

from django.db import migrations

log = logging.getLogger(__name__)

NEW_SEARCHED = ["date", "source_archive"]
WEIGHTED = {
    "A": ["title"],
    "B": ["people", "place", "subjects", "creator"],
    "C": ["description", "date"],
    "D": ["source_archive", "source_identifier"],
}


def _document() -> str:
    return " || ".join(
        f"setweight(to_tsvector('simple'::regconfig, colorarchive_unaccent(coalesce({column}, ''))), '{weight}')"
        for weight, columns in WEIGHTED.items()
        for column in columns
    )


def forwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        has_trgm = cursor.fetchone() is not None
    if has_trgm:
        for column in NEW_SEARCHED:
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS catalog_item_{column}_trgm ON catalog_item USING gin "
                f"(UPPER(colorarchive_unaccent({column})) gin_trgm_ops)"
            )
    else:
        log.warning("pg_trgm is not installed; the search works without trigram indexes and typo tolerance")
    schema_editor.execute(
        f"ALTER TABLE catalog_item ADD COLUMN search_document tsvector GENERATED ALWAYS AS ({_document()}) STORED"
    )
    schema_editor.execute(
        "CREATE INDEX catalog_item_search_document ON catalog_item USING gin (search_document)"
    )


def backwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE catalog_item DROP COLUMN IF EXISTS search_document")
    for column in NEW_SEARCHED:
        schema_editor.execute(f"DROP INDEX IF EXISTS catalog_item_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0009_hash_api_tokens"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
