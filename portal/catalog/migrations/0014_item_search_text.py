"""Item.search_text: the searched fields folded (accents and case) and joined, so SQLite's search matches the
words with a plain LIKE instead of calling a Python function per row and field (portal/catalog/search.py).
Existing rows are filled here; Item.save() keeps it from now on."""

import unicodedata

from django.db import migrations, models

# written out as they are today (a migration stays as it was): portal.catalog.models.SEARCHED_FIELDS and
# portal.catalog.search.fold_fields
FIELDS = ["title", "description", "date", "place", "people", "subjects", "creator", "source_archive",
          "source_identifier"]  # fmt: skip
SEPARATORS = tuple(chr(0xE000 + i) for i in range(16))


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return folded.translate({ord(sep): " " for sep in SEPARATORS})


def fill(apps, schema_editor):
    Item = apps.get_model("catalog", "Item")
    batch = []
    for item in Item.objects.only("pk", *FIELDS).iterator(chunk_size=2000):
        values = [getattr(item, name) or "" for name in FIELDS]
        item.search_text = "".join(
            _fold(v) + sep for v, sep in zip(values, SEPARATORS[: len(FIELDS)], strict=True)
        )
        batch.append(item)
        if len(batch) == 2000:
            Item.objects.bulk_update(batch, ["search_text"])
            batch = []
    Item.objects.bulk_update(batch, ["search_text"])


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0013_metadata_only_items"),
    ]

    operations = [
        migrations.AddField(
            model_name="item",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
