import logging

from django.contrib.postgres.operations import UnaccentExtension
from django.db import migrations

log = logging.getLogger(__name__)

# The columns the search reads (portal.catalog.models.SEARCHED_FIELDS, written out: a migration stays as it was)
SEARCHED = ["title", "description", "place", "people", "subjects", "creator", "source_identifier"]


def _trigram_indexes(schema_editor, expression: str) -> None:
    """Replace the trigram index of each searched column (catalog_item_<column>_trgm) by one on `expression`;
    nothing where pg_trgm is not installed (migration 0006 goes on without it)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is None:
            log.warning("pg_trgm is not installed; the accent-insensitive search works without its indexes")
            return
    for column in SEARCHED:
        schema_editor.execute(f"DROP INDEX IF EXISTS catalog_item_{column}_trgm")
        schema_editor.execute(
            f"CREATE INDEX catalog_item_{column}_trgm ON catalog_item USING gin "
            f"({expression.format(column=column)} gin_trgm_ops)"
        )


def unaccented_search(apps, schema_editor) -> None:
    """PostgreSQL: colorarchive_unaccent(text), IMMUTABLE (unaccent() itself is only STABLE, which an index
    expression may not call), naming the extension's schema and dictionary so that it never depends on the
    search_path (pg_restore empties it); the trigram indexes move to UPPER(colorarchive_unaccent(column)), the
    expression Django writes for `column__unaccented__icontains` (portal/catalog/search.py)."""
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite: the function is registered in Python on each connection
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'unaccent'")
        (schema,) = cursor.fetchone()
    schema_editor.execute(
        "CREATE OR REPLACE FUNCTION colorarchive_unaccent(text) RETURNS text "
        "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
        f"AS $$ SELECT {schema}.unaccent('{schema}.unaccent'::regdictionary, $1) $$"
    )
    _trigram_indexes(schema_editor, "UPPER(colorarchive_unaccent({column}))")


def accented_search(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    _trigram_indexes(schema_editor, "UPPER({column})")
    schema_editor.execute("DROP FUNCTION IF EXISTS colorarchive_unaccent(text)")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0007_catalogue_version"),
    ]

    operations = [
        UnaccentExtension(),  # PostgreSQL only (Django's operation does nothing elsewhere); trusted since PG 13
        migrations.RunPython(unaccented_search, accented_search, elidable=False),
    ]
