"""Typo tolerance for the embedded SQLite search: "Etiene" finds Saint-Étienne, "cathedrall" the cathedral.

PostgreSQL forgives typos itself (pg_trgm, portal/gallery/search.py). SQLite has no such index, so when the words
find nothing each word the catalogue does not hold is replaced by the closest one it does (difflib's ratio, as
`get_close_matches`), and the search runs again with the corrected words; the page says "Showing results for …"
and keeps the words as typed in the form.

The vocabulary is the distinct words of the published items' folded `search_text` (accents and case already
gone), read once per catalogue version (portal/gallery/public_cache.py) and kept by each process for that
version. Words of fewer than MIN_LENGTH letters and words with digits (dates, identifiers: one digit off is
another record) are never corrected.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from portal.catalog.models import Item
from portal.catalog.search import folded_words
from portal.gallery.public_cache import CACHE_ERRORS, catalogue_version, lookup, store

MIN_LENGTH = 4
CUTOFF = 0.8  # difflib's ratio a replacement must reach: "etiene" -> "etienne" is 0.92, "dock" -> "rock" 0.75
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Vocabulary:
    version: str | None
    words: frozenset[str]
    by_length: dict[int, list[str]] = field(
        default_factory=dict
    )  # the words grouped by length, for the search


_kept = Vocabulary(None, frozenset())


def _read_words() -> frozenset[str]:
    words: set[str] = set()
    texts = Item.objects.published().order_by().values_list("search_text", flat=True)
    for text in texts.iterator(chunk_size=2000):
        words.update(w for w in WORD.findall(text) if len(w) >= MIN_LENGTH and w.isalpha())
    return frozenset(words)


def vocabulary() -> Vocabulary:
    """The distinct folded words of the published catalogue, under the current catalogue version."""
    global _kept
    try:
        current = catalogue_version()
    except CACHE_ERRORS:
        current = None
    if current is not None and _kept.version == current:
        return _kept
    version, words = lookup("search-words", "")
    if words is None:
        words = _read_words()
        store("search-words", "", version, words)
    by_length: dict[int, list[str]] = {}
    for word in sorted(words):
        by_length.setdefault(len(word), []).append(word)
    _kept = Vocabulary(version, words, by_length)
    return _kept


def _closest(word: str, known: Vocabulary) -> str:
    if word in known.words or len(word) < MIN_LENGTH or not word.isalpha():
        return word
    # a ratio of CUTOFF needs lengths close enough: 2 * shorter / (a + b) >= CUTOFF
    spread = int(len(word) * 2 * (1 - CUTOFF) / CUTOFF) + 1
    lengths = range(len(word) - spread, len(word) + spread + 1)
    candidates = [w for n in lengths for w in known.by_length.get(n, ())]
    found = difflib.get_close_matches(word, candidates, n=1, cutoff=CUTOFF)
    return found[0] if found else word


def corrected(words: str) -> str | None:
    """`words` folded with each unknown word replaced by the catalogue's closest one; None when nothing changed."""
    known = vocabulary()
    folded = folded_words(words).strip()
    fixed = WORD.sub(lambda m: _closest(m.group(), known), folded)
    return fixed if fixed != folded else None
