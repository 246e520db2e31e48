"""The public search: words, filters, facets with counts, and the sort order, all read from the URL's query.

Words match as a phrase or word by word, anywhere in any Dublin Core field (SEARCHED_FIELDS), ignoring case and
accents both ways (portal/catalog/search.py). On PostgreSQL they also match as full-text search (the generated,
weighted `search_document` column and its GIN index, catalog migration 0011) and, for typos, by trigram word
similarity (`pg_trgm`'s `%>`, served by the trigram indexes); relevance is ts_rank_cd plus that similarity. On
SQLite the words are folded once here and matched with LIKE against each item's folded `search_text` column (no
Python call per row); relevance is a weighted count of the fields the words are found in, each field's part of
that column cut out with instr/substr; words that find nothing there are respelled from the catalogue's own
words (portal/gallery/spelling.py) and searched again, the page saying "Showing results for …".

Facets (collection, decade, place, people, subjects, type, rights) count the items that match the current words
and filters; each value is a link that adds its filter to the URL, so every page of results can be shared.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlencode

from django.contrib.postgres.lookups import TrigramWordSimilar
from django.db import connection
from django.db.models import (
    BooleanField,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    TextField,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower

from portal.catalog.models import RIGHTS_CHOICES, SEARCHED_FIELDS, Collection, Item
from portal.catalog.search import FUNCTION, SEPARATORS, folded_words
from portal.gallery.public_cache import lookup, store
from portal.gallery.spelling import corrected

# the search form's fields, in the URL's order
PARAMS = ("q", "place", "person", "subject", "collection", "year_from", "year_to", "type", "rights", "sort")
SORTS = {
    "relevance": "Relevance",
    "newest": "Recently added",
    "date": "Date, oldest first",
    "-date": "Date, newest first",
    "title": "Title, A to Z",
}
# SQLite's relevance: how much a field that holds the words counts (PostgreSQL weighs the same way, A to D)
WEIGHTS = {"title": 8, "people": 4, "place": 4, "subjects": 4, "creator": 4, "description": 2, "date": 2,
           "source_archive": 1, "source_identifier": 1}  # fmt: skip
# typos are forgiven in the descriptive fields, not in identifiers or dates (one digit off is another record)
TYPO_FIELDS = ("title", "place", "people", "subjects", "creator", "description")
FACET_SIZE = 12


def clean_params(query) -> dict[str, str]:
    """The search's parameters from a QueryDict (or dict), stripped; an unknown sort falls back to the default."""
    params = {k: (query.get(k) or "").strip() for k in PARAMS}
    if params["sort"] not in SORTS or (params["sort"] == "relevance" and not params["q"]):
        params["sort"] = "relevance" if params["q"] else "newest"
    return params


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


_TRIGRAMS: dict[str, bool] = {}


def has_trigrams() -> bool:
    """pg_trgm is installed (migration 0006 goes on without it, and so does the typo search); asked once per
    database."""
    if not is_postgresql():
        return False
    name = connection.settings_dict["NAME"]
    if name not in _TRIGRAMS:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
            _TRIGRAMS[name] = cursor.fetchone() is not None
    return _TRIGRAMS[name]


class Folded(Func):
    """UPPER(colorarchive_unaccent(x)): the expression the trigram indexes are built on (migrations 0008, 0011)."""

    template = f"UPPER({FUNCTION}(%(expressions)s))"
    output_field = TextField()


def words_filter(words: str) -> Q:
    """`words` as one phrase anywhere in any of SEARCHED_FIELDS, whatever the case and the accents, either side."""
    if not is_postgresql():  # the separators keep a phrase inside one field
        return Q(search_text__contains=folded_words(words))
    found = Q()
    for field in SEARCHED_FIELDS:
        found |= Q(**{f"{field}__unaccented__icontains": words})
    return found


def match(words: str, typos: bool = False) -> Q:
    """The items `words` finds: the phrase, or every word somewhere (in any order, in any fields); on PostgreSQL
    also full-text matches, and with `typos` near spellings."""
    found = words_filter(words)
    parts = words.split()
    if len(parts) > 1:
        every = Q()
        for part in parts:
            every &= words_filter(part)
        found |= every
    if is_postgresql():
        found |= Q(RawSQL(f'"catalog_item"."search_document" @@ websearch_to_tsquery(\'simple\', {FUNCTION}(%s))',
                          [words], output_field=BooleanField()))  # fmt: skip
        if typos:
            for field in TYPO_FIELDS:
                found |= Q(TrigramWordSimilar(Folded(F(field)), Folded(Value(words))))
    return found


def _whole_entry(field: str, value: str) -> Q:
    """`value` as one whole entry of a semicolon-separated list, ignoring case and accents."""
    return Q(**{f"{field}__unaccented__iregex": rf"(^|;)\s*{re.escape(value)}\s*(;|$)"})


def _quoted(value: str) -> str | None:
    """The value inside double quotes (a facet's link asks for that exact entry), else None."""
    return value[1:-1].strip() if len(value) > 2 and value[0] == value[-1] == '"' else None


def _entry_filter(field: str, value: str) -> Q:
    exact = _quoted(value)
    if exact is None:
        return Q(**{f"{field}__unaccented__icontains": value})
    return Q(**{f"{field}__unaccented__iexact": exact}) if field == "place" else _whole_entry(field, exact)


def years_overlap(year_from: int | None, year_to: int | None) -> Q:
    """Every item whose (circa) range of years overlaps the asked one; None leaves that end open."""
    found = Q()
    if year_from is not None:
        found &= Q(year_to__gte=year_from) | Q(year_to__isnull=True, year_from__gte=year_from)
    if year_to is not None:
        found &= Q(year_from__lte=year_to)
    return found


def _year(params: dict[str, str], key: str) -> int | None:
    value = params.get(key, "")
    return int(value) if value.isdigit() else None


def filtered(params: dict[str, str]) -> QuerySet[Item]:
    """The published items matching the words and every filter, in no particular order."""
    items = Item.objects.published()
    for key, field in (("place", "place"), ("person", "people"), ("subject", "subjects")):
        if params.get(key):
            items = items.filter(_entry_filter(field, params[key]))
    if params.get("collection"):
        items = items.filter(collection__slug=params["collection"])
    if params.get("type") in Item.Type.values:
        items = items.filter(type=params["type"])
    if params.get("rights"):
        items = items.filter(rights=params["rights"])
    items = items.filter(years_overlap(_year(params, "year_from"), _year(params, "year_to")))
    words = params.get("q")
    if not words:
        return items
    found = items.filter(match(words))
    if len(words) >= 3 and has_trigrams() and not found.exists():
        # near spellings only when the words themselves find nothing: "hamburk" finds Hamburg, but "etienne"
        # does not also bring every title that shares most of its trigrams
        found = items.filter(match(words, typos=True))
    return found


def respelled(params: dict[str, str]) -> str | None:
    """On SQLite, the words corrected to the catalogue's spelling when as typed they find nothing and corrected
    they find something (with the same filters); None otherwise, and always on PostgreSQL (its trigrams forgive
    typos in `filtered`)."""
    words = params.get("q", "")
    if is_postgresql() or len(words) < 3 or filtered(params).exists():
        return None
    fixed = corrected(words)
    return fixed if fixed and filtered({**params, "q": fixed}).exists() else None


def relevance(words: str):
    """A score for ordering: higher is a better match."""
    if is_postgresql():
        rank = RawSQL(
            f'ts_rank_cd("catalog_item"."search_document", websearch_to_tsquery(\'simple\', {FUNCTION}(%s)))',
            [words],
            output_field=FloatField(),
        )
        if not has_trigrams():
            return rank
        similarity = Func(Folded(Value(words)), Folded(F("title")), function="word_similarity",
                          output_field=FloatField())  # fmt: skip
        return rank + similarity
    return _sqlite_relevance(folded_words(words))


def _sqlite_relevance(folded: str) -> RawSQL:
    """The weighted count of the fields holding `folded`, read from `search_text`: field i's part runs from the
    character after separator i-1 up to separator i."""
    column = '"catalog_item"."search_text"'
    terms, params = [], []
    for i, field in enumerate(SEARCHED_FIELDS):
        start = "1" if i == 0 else f"instr({column}, %s) + 1"
        part = f"substr({column}, {start}, instr({column}, %s) - ({start}))"
        terms.append(f"CASE WHEN instr({part}, %s) > 0 THEN {WEIGHTS.get(field, 0)} ELSE 0 END")
        bounds = [SEPARATORS[i]] if i == 0 else [SEPARATORS[i - 1], SEPARATORS[i], SEPARATORS[i - 1]]
        params += [*bounds, folded]
    return RawSQL(" + ".join(terms), params, output_field=IntegerField())


def search_items(params: dict[str, str]) -> QuerySet[Item]:
    """The published items matching the search form's fields, in the asked order (relevance when words are
    given, else the newest first)."""
    params = clean_params(params)
    items = filtered(params).select_related("collection")
    sort = params["sort"]
    if sort == "relevance":
        return items.annotate(relevance=relevance(params["q"])).order_by("-relevance", "-created", "-id")
    if sort == "date":
        return items.order_by(F("year_from").asc(nulls_last=True), Lower("title"), "id")
    if sort == "-date":
        return items.order_by(
            F("year_to").desc(nulls_last=True), F("year_from").desc(nulls_last=True), Lower("title"), "id"
        )
    if sort == "title":
        return items.order_by(Lower("title"), "id")
    return items.order_by("-created", "-id")


# ---- facets


def _top(counter: Counter, size: int = FACET_SIZE) -> list[tuple]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]).casefold()))[:size]


def _entries(text: str) -> set[str]:
    return {entry.strip() for entry in text.split(";") if entry.strip()}


def _decades_of(year_from: int | None, year_to: int | None) -> range:
    """The decades an item's range of years overlaps (as years_overlap finds it); none without a first year."""
    if year_from is None:
        return range(0)
    last = max(year_from, year_to or year_from)
    return range(year_from // 10 * 10, min(last, year_from + 300) // 10 * 10 + 1, 10)


def facets(params: dict[str, str]) -> dict[str, list]:
    """Counts of the items matching the search, per value of each facet (the most frequent first), kept per
    search and catalogue version in the public cache. The search runs once: the matching items' facet columns
    come back in one query and are counted here (10,000 rows of short text), rather than one GROUP BY per facet
    each running the words' filter again."""
    items = filtered(clean_params(params)).order_by()
    try:
        address = repr(items.query.sql_with_params())
    except Exception:  # a search that cannot match (EmptyResultSet): nothing to count
        return {}
    version, found = lookup("facets", address)
    if found is not None:
        return found
    counts = {key: Counter() for key in FACET_TITLES}
    columns = ("collection_id", "year_from", "year_to", "place", "people", "subjects", "type", "rights")
    for coll, year_from, year_to, place, people, subjects, kind, rights in items.values_list(
        *columns
    ).iterator(chunk_size=2000):
        if coll is not None:
            counts["collection"][coll] += 1
        counts["decade"].update(_decades_of(year_from, year_to))
        if place:
            counts["place"][place] += 1
        counts["person"].update(_entries(people))
        counts["subject"].update(_entries(subjects))
        counts["type"][kind] += 1
        counts["rights"][rights] += 1
    collections = {
        pk: (slug, title) for pk, slug, title in Collection.objects.values_list("pk", "slug", "title")
    }
    labels = {"type": dict(Item.Type.choices), "rights": dict(RIGHTS_CHOICES)}
    found = {key: [(v, labels.get(key, {}).get(v, v), n) for v, n in _top(counts[key])] for key in counts}
    found["collection"] = [(*collections[pk], n) for pk, n in _top(counts["collection"]) if pk in collections]
    found["decade"] = [(str(d), f"{d}s", n) for d, n in sorted(counts["decade"].items())]
    store("facets", address, version, found)
    return found


FACET_TITLES = {"collection": "Collection", "decade": "Decade", "place": "Place", "person": "People",
                "subject": "Subjects", "type": "Type", "rights": "Rights"}  # fmt: skip


def facet_links(params: dict[str, str], counted: dict[str, list]) -> list[dict]:
    """Each facet's values as links that add that value to the current search (from page 1), the selected
    one marked with a link that takes it off."""
    out = []
    for key, title in FACET_TITLES.items():
        values = []
        for value, label, n in counted.get(key, []):
            selected = _is_selected(params, key, value)
            asked = _without(params, key) if selected else {**_without(params, key), **_select(key, value)}
            values.append({"label": label, "count": n, "selected": selected, "query": encode(asked)})
        if values:
            out.append({"key": key, "title": title, "values": values})
    return out


def chosen_filters(params: dict[str, str]) -> list[dict]:
    """The filters in force, each with the address of the same search without it."""
    labels = {"rights": dict(RIGHTS_CHOICES), "type": dict(Item.Type.choices)}
    chosen = []
    for key in ("place", "person", "subject", "collection", "type", "rights"):
        if params.get(key):
            value = _quoted(params[key]) or params[key]
            if key == "collection":
                label = Collection.objects.filter(slug=value).values_list("title", flat=True).first() or value
            else:
                label = labels.get(key, {}).get(value, value)
            chosen.append(
                {"title": FACET_TITLES[key], "label": label, "query": encode(_without(params, key))}
            )
    if params.get("year_from") or params.get("year_to"):
        span = f"{params.get('year_from') or '…'} to {params.get('year_to') or '…'}"
        chosen.append({"title": "Years", "label": span, "query": encode(_without(params, "decade"))})
    return chosen


def _select(key: str, value: str) -> dict[str, str]:
    if key == "decade":
        return {"year_from": value, "year_to": str(int(value) + 9)}
    if key in ("place", "person", "subject"):
        return {key: f'"{value}"'}  # quoted: that entry exactly, not every one containing it
    return {key: value}


def _without(params: dict[str, str], key: str) -> dict[str, str]:
    drop = ("year_from", "year_to") if key == "decade" else (key,)
    return {k: v for k, v in params.items() if k not in drop}


def _is_selected(params: dict[str, str], key: str, value: str) -> bool:
    return all(params.get(k) == v for k, v in _select(key, value).items())


def encode(params: dict[str, str]) -> str:
    """The search's query string, without empty fields or the default sort (the shortest address to share)."""
    default_sort = "relevance" if params.get("q") else "newest"
    return urlencode({k: v for k, v in params.items() if v and not (k == "sort" and v == default_sort)})
