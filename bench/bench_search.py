"""The public search at 10,000 items: words, filters, sort, the first page and every facet's counts.

    DATABASE_URL=sqlite:////tmp/bench-search.sqlite3 python bench/bench_search.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_search python bench/bench_search.py
    python bench/bench_search.py --markdown-only    (both databases' saved figures into BENCHMARKS.md)

Seeds an empty database (migrating it first) with published items whose fields vary as a catalogue's do:
accented places and people, subjects, 1880-1979, 20 collections, photographs and films, four rights statements.
Each case is timed uncached (the public cache is switched off): the count, the page of 24, and the facets, as
`/search/` computes them for a visitor whose page is not in the cache. Reports the median of --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")  # a local tool: settings default to production otherwise

RESULTS = Path(__file__).resolve().parents[1] / "var"  # each database's last run, for --markdown-only
PLACES = ["Saint-Étienne", "Köln", "Hamburg", "Kraków", "Málaga", "Zürich", "Lübeck", "Göteborg", "Łódź",
          "Besançon", "Marseille", "Kiel", "Bremen", "Gdańsk", "Aarhus", "Oporto", "Nîmes", "Genève"]  # fmt: skip
PEOPLE = [f"{first} {last}" for first in ("Zoë", "Jürgen", "Anna", "Élodie", "Karl", "Søren", "Marta", "José")
          for last in ("Lind", "Maß", "Berg", "Dvořák", "Nowak", "Müller", "Ørsted", "García")]  # fmt: skip
SUBJECTS = ["harbours", "trams", "cafés", "markets", "bridges", "factories", "weddings", "schools", "ships",
            "railways", "festivals", "churches", "streets", "farms", "bakeries"]  # fmt: skip
RIGHTS = ["http://rightsstatements.org/vocab/NoC-NC/1.0/", "http://rightsstatements.org/vocab/InC/1.0/",
          "http://rightsstatements.org/vocab/CNE/1.0/", "http://rightsstatements.org/vocab/NKC/1.0/"]  # fmt: skip
CASES = [
    ("no words (the first visit)", {}),
    ("a common word: harbour", {"q": "harbour"}),
    ("accents both ways: etienne", {"q": "etienne"}),
    ("two words, any order: tram koln", {"q": "tram koln"}),
    ("a typo: hamburk", {"q": "hamburk"}),
    ("nothing found: zeppelin", {"q": "zeppelin"}),
    (
        "words and filters: cafe, 1920s, a person",
        {"q": "cafe", "year_from": "1920", "year_to": "1929", "person": '"Zoë Lind"'},
    ),  # fmt: skip
    ("sorted by date", {"q": "market", "sort": "date"}),
    ("sorted by title", {"sort": "title"}),
]


def seed(n: int) -> None:
    from django.utils import timezone

    from portal.catalog.models import Collection, Item

    collections = Collection.objects.bulk_create(
        [Collection(title=f"Collection {c}", slug=f"collection-{c}") for c in range(20)]
    )
    now, items = timezone.now(), []
    for i in range(n):
        place, subject = PLACES[i % len(PLACES)], SUBJECTS[(i * 7) % len(SUBJECTS)]
        year = 1880 + (i * 37) % 100
        item = Item(title=f"{subject.capitalize()} in {place}, view {i}",
                    description=f"A {'harbour' if i % 5 == 0 else 'street'} scene with {subject} near {place}.",
                    date=f"circa {year}", year_from=year, year_to=year + (i % 3), place=place,
                    people=f"{PEOPLE[i % len(PEOPLE)]}; {PEOPLE[(i * 11) % len(PEOPLE)]}",
                    subjects=f"{subject}; {SUBJECTS[(i * 3) % len(SUBJECTS)]}", creator=f"Studio {i % 40}",
                    source_archive="City Archive", source_identifier=f"CA-{year}-{i}", rights=RIGHTS[i % 4],
                    type=Item.Type.MOVING_IMAGE if i % 9 == 0 else Item.Type.STILL_IMAGE,
                    status=Item.Status.PUBLISHED, published_at=now, sha256=f"{i:064x}",
                    original_name=f"scan_{i}.tif", collection=collections[i % 20], size=1000)  # fmt: skip
        item.original.name = f"originals/bench/{i}.tif"
        items.append(item)
    Item.objects.bulk_create(items, batch_size=1000)


def run_case(params: dict) -> dict:
    from portal.gallery.search import clean_params, facets, search_items

    params = clean_params(params)
    start = time.perf_counter()
    items = search_items(params)
    count = items.count()
    page = list(items[:24])
    facet_start = time.perf_counter()
    counted = facets(params)
    end = time.perf_counter()
    assert len(page) == min(24, count)
    return {"count": count, "page_ms": (facet_start - start) * 1000, "facets_ms": (end - facet_start) * 1000,
            "values": sum(len(v) for v in counted.values())}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="merge the figures into BENCHMARKS.md")
    parser.add_argument(
        "--markdown-only", action="store_true", help="write BENCHMARKS.md from the saved runs"
    )
    args = parser.parse_args()
    if args.markdown_only:
        return write_markdown()

    import django
    from django.conf import settings

    django.setup()
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}  # uncached
    from django.core.management import call_command
    from django.db import connection

    from portal.catalog.models import Item

    call_command("migrate", interactive=False, verbosity=0)
    if not Item.objects.exists():
        seed(args.items)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
    n = Item.objects.count()
    rows = []
    for label, params in CASES:
        run_case(params)  # warm
        runs = [run_case(params) for _ in range(args.repeat)]
        rows.append({"case": label, "found": runs[0]["count"], "facet_values": runs[0]["values"],
                     "page_ms": statistics.median(r["page_ms"] for r in runs),
                     "facets_ms": statistics.median(r["facets_ms"] for r in runs)})  # fmt: skip
    result = {"database": connection.vendor, "repeat": args.repeat, "items": n, "load": os.getloadavg()[0], "rows": rows,
              "python": platform.python_version()}  # fmt: skip
    print(json.dumps(result, indent=1))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"bench-search-{connection.vendor}.json").write_text(json.dumps(result, indent=1))
    if args.write:
        write_markdown()


def write_markdown() -> None:
    from benchlib import publish

    found = {p.stem.rsplit("-", 1)[1]: json.loads(p.read_text()) for p in RESULTS.glob("bench-search-*.json")}
    repeat = min(run.get("repeat", 3) for run in found.values())
    lines = ["## Search and facets at 10,000 items (bench/bench_search.py)", ""]
    lines.append(f"Uncached (the public cache off), median of {repeat} runs after one warm-up: the count and first page of 24, then every "
                 "facet's counts (collection, decade, place, people, subjects, type, rights) for the same search. "
                 "Milliseconds.")  # fmt: skip
    lines.append("")
    vendors = sorted(found)
    head = "| case | " + " | ".join(f"{v}: found | page | facets" for v in vendors) + " |"
    lines += [head, "|" + " --- |" * (1 + 3 * len(vendors))]
    for i, row in enumerate(found[vendors[0]]["rows"]):
        cells = [row["case"]]
        for v in vendors:
            other = found[v]["rows"][i]
            cells += [str(other["found"]), f"{other['page_ms']:.0f}", f"{other['facets_ms']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for v in vendors:
        lines.append(f"- {v}: {found[v]['items']} items, load average {found[v]['load']:.1f} when run.")
    publish(lines[0], lines)


if __name__ == "__main__":
    main()
