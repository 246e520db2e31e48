"""Search that ignores accents and case: `field__unaccented__icontains="etienne"` finds "Saint-Étienne".

`unaccented` is a transform applied to both sides of the lookup (bilateral), calling the SQL function
colorarchive_unaccent(text). On PostgreSQL, catalog migration 0008 creates it as an IMMUTABLE wrapper around the
`unaccent` extension (so trigram indexes can be built on UPPER(colorarchive_unaccent(column)) and serve the
search); on SQLite it is the Python function below, registered on every new connection, which also folds case
because SQLite's LIKE folds ASCII letters only.

SQLite's public search does not call that function per row: every item keeps `search_text`, the folded text of
its searched fields (catalog migration 0014, `Item.save`), each field closed by its own separator character, so the
words are folded once in Python and matched with a plain LIKE, and a field's part can be cut out with instr/substr
for the relevance score.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

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


# one private-use character closes each searched field's part of `search_text`: a phrase never runs from one field
# into the next, and a field's part starts after the previous field's separator
SEPARATORS = tuple(chr(0xE000 + i) for i in range(16))
_NO_SEPARATORS = {ord(sep): " " for sep in SEPARATORS}


def folded_words(words: str) -> str:
    """The words as `search_text` holds text: folded, without the separator characters."""
    return (fold(words) or "").translate(_NO_SEPARATORS)


def fold_fields(values: Sequence[str | None]) -> str:
    """The searched fields' values (in SEARCHED_FIELDS' order) folded and joined, each closed by its separator."""
    return "".join(folded_words(value or "") + sep for value, sep in zip(values, SEPARATORS, strict=False))
