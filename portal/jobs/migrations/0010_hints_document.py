"""A request's colour hints become the hints document (points, strokes, strength), as the editor and the
command line write it; the bare lists of points kept before become {"points": [...]}."""

from django.db import migrations, models


def _to_document(apps, schema_editor):
    for name in ("ColorizationRequest", "HistoricalColorizationRequest"):
        model = apps.get_model("jobs", name)
        for row in model.objects.filter(options__has_key="hints").only("pk", "options").iterator():
            if isinstance(row.options["hints"], list):
                row.options["hints"] = {"points": row.options["hints"]}
                model.objects.filter(pk=row.pk).update(options=row.options)
    preview = apps.get_model("jobs", "HintPreview")
    for row in preview.objects.only("pk", "hints").iterator():
        if isinstance(row.hints, list):
            preview.objects.filter(pk=row.pk).update(hints={"points": row.hints} if row.hints else {})


def _to_points(apps, schema_editor):
    for name in ("ColorizationRequest", "HistoricalColorizationRequest"):
        model = apps.get_model("jobs", name)
        for row in model.objects.filter(options__has_key="hints").only("pk", "options").iterator():
            if isinstance(row.options["hints"], dict):
                row.options["hints"] = row.options["hints"].get("points", [])
                model.objects.filter(pk=row.pk).update(options=row.options)
    preview = apps.get_model("jobs", "HintPreview")
    for row in preview.objects.only("pk", "hints").iterator():
        if isinstance(row.hints, dict):
            preview.objects.filter(pk=row.pk).update(hints=row.hints.get("points", []))


class Migration(migrations.Migration):
    dependencies = [("jobs", "0009_hintpreview")]

    operations = [
        migrations.AlterField(
            model_name="hintpreview", name="hints", field=models.JSONField(blank=True, default=dict)
        ),
        migrations.RunPython(_to_document, _to_points),
    ]
