"""Search that ignores accents and case: `field__unaccented__icontains="etienne"` finds "Saint-Étienne".

`unaccented` is a transform applied to both sides of the lookup (bilateral), calling the SQL function
colorarchive_unaccent(text). On PostgreSQL, catalog migration 0008 creates it as an IMMUTABLE wrapper around the
`unaccent` extension (so trigram indexes can be built on UPPER(colorarchive_unaccent(column)) and serve the
search); on SQLite it is the Python function below, registered on every new connection, which also folds case
because SQLite's LIKE folds ASCII letters only.
"""

from __future__ import annotations

import unicodedata

from django.db.models import TextField, Transform

FUNCTION = "colorarchive_unaccent"


class Unaccented(Transform):
    lookup_name = "unaccented"
    function = FUNCTION
    bilateral = True
    output_field = TextField()


def fold(text: str | None) -> str | None:
    """Accents stripped (NFKD, combining marks dropped) and case folded: "Saint-Étienne" -> "saint-etienne"."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def add_sqlite_function(sender, connection, **kwargs) -> None:
    """connection_created: SQLite gets colorarchive_unaccent as a Python function (PostgreSQL has it in SQL)."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(FUNCTION, 1, fold, deterministic=True)
