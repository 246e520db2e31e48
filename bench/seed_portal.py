"""Fill a portal database with a published catalogue for the portal benchmark (bench/locustfile.py).

    DJANGO_SETTINGS_MODULE=portal.settings DATABASE_URL=postgres://.../bench python bench/seed_portal.py --items 10000

Rows only (no media files: list pages name files by URL and never open them). Every item is published with
two approved results (the default model's and another's), spread over 20 collections, 50 places and 400
people; migrates first, refuses a database that has items already.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")  # a local seeding tool: settings default to production otherwise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from portal.catalog.models import Collection, Item
    from portal.jobs.models import ColorizationRequest, ColorModel, Status

    call_command("migrate", interactive=False, verbosity=0)
    if Item.objects.exists():
        sys.exit("the database has items already; seed an empty one")
    now = timezone.now()
    collections = Collection.objects.bulk_create(
        [Collection(title=f"Collection {c}", slug=f"collection-{c}") for c in range(20)]
    )
    default = ColorModel.objects.create(name="bench-default", checkpoint="models/a.pt", is_default=True)
    other = ColorModel.objects.create(name="bench-other", checkpoint="models/b.pt")
    items = []
    for i in range(args.items):
        item = Item(title=f"Harbour scene {i}", description=f"Dock workers and ships, scene {i}.",
                    status=Item.Status.PUBLISHED, published_at=now - timedelta(minutes=i), sha256=f"{i:064x}",
                    original_name=f"scan_{i}.tif", collection=collections[i % 20], place=f"Port {i % 50}",
                    people=f"Person {i % 400}; Person {(i * 7) % 400}", subjects="harbours; work",
                    year_from=1900 + i % 60, year_to=1900 + i % 60, size=1000)  # fmt: skip
        item.original.name = f"originals/bench/{i}.tif"
        item.preview.name, item.thumbnail.name = f"derived/{i}-preview.jpg", f"derived/{i}-thumb.jpg"
        items.append(item)
    items = Item.objects.bulk_create(items, batch_size=1000)
    results = []
    for item in items:
        for model in (default, other):
            req = ColorizationRequest(item=item, model=model, preset="photo", status=Status.DONE, approved=True,
                                      approved_at=now, finished=now)  # fmt: skip
            req.result.name = f"results/{item.pk}-{model.pk}.jpg"
            results.append(req)
    ColorizationRequest.objects.bulk_create(results, batch_size=2000)
    from django.db import connection

    if connection.vendor == "postgresql":  # planner statistics, as a live database's autovacuum keeps them
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"{len(items)} published items, {len(results)} approved results, {len(collections)} collections")


if __name__ == "__main__":
    main()
