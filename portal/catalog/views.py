"""Staff pages: the catalogue, uploads, CSV import, metadata, the comparison of results, and the Trash."""

from __future__ import annotations

import base64
import json

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from colorization.hints import MAX_POINTS, MAX_STROKES
from colorization.media import poster_index
from portal import audit, broker
from portal.catalog import importer, trash
from portal.catalog.forms import (
    CSV_MAX_BYTES,
    IMPORT_LABELS,
    IMPORT_TARGETS,
    AttachForm,
    CollectionForm,
    ImportForm,
    ItemForm,
    UploadForm,
)
from portal.catalog.importer import import_csv
from portal.catalog.ingest import IngestError, add_item, attach_original
from portal.catalog.models import RIGHTS_CHOICES, Collection, Item, TrashEntry
from portal.catalog.permissions import admin_required, staff_required
from portal.jobs import bulk as bulk_actions
from portal.jobs import hints as hint_rules
from portal.jobs import queue
from portal.jobs.forms import BulkForm, ColorizeForm
from portal.jobs.models import BulkAction, ColorizationRequest, Status
from portal.middleware import disk_full_message
from portal.storage import is_disk_full


def filtered_items(params) -> tuple[object, str, str | None]:
    """The catalogue as the dashboard's filter (q, status) narrows it: (queryset, q, status)."""
    items = Item.objects.select_related("collection").order_by("-created")
    q = params.get("q", "").strip()
    if q:
        items = items.filter(  # ignoring case and accents, as the public search does
            Q(title__unaccented__icontains=q)
            | Q(source_identifier__unaccented__icontains=q)
            | Q(people__unaccented__icontains=q)
        )
    status = params.get("status")
    if status in Item.Status.values:
        items = items.filter(status=status)
    return items, q, status


@require_safe
@staff_required
def dashboard(request):
    items, q, status = filtered_items(request.GET)
    items = items.annotate(results=Count("requests", filter=Q(requests__status=Status.DONE)))
    page = Paginator(items, 30).get_page(request.GET.get("page"))
    active = ColorizationRequest.objects.filter(status__in=[Status.PENDING, Status.RUNNING]).count()
    return render(
        request,
        "catalog/dashboard.html",
        {
            "page": page,
            "q": q,
            "status": status,
            "active_jobs": active,
            "collections": Collection.objects.annotate(n=Count("items")),
            "bulk_form": BulkForm(),
            "bulk_actions": BulkAction.objects.filter(status__in=[Status.PENDING, Status.RUNNING]),
        },
    )


@staff_required
@require_POST
def bulk(request):
    """Start a bulk action over the ticked items, or over every item the posted filter matches."""
    form = BulkForm(request.POST)
    if not form.is_valid():
        for error in form.non_field_errors() or [f"{k}: {' '.join(v)}" for k, v in form.errors.items()]:
            messages.error(request, error)
        return redirect(f"{reverse('catalog:dashboard')}?{_filter_query(request.POST)}")
    if form.cleaned_data["everything"]:
        ids = list(filtered_items(request.POST)[0].values_list("pk", flat=True))
    else:
        ids = list(Item.objects.filter(pk__in=form.cleaned_data["items"]).values_list("pk", flat=True))
    action = bulk_actions.start(request.user, form.cleaned_data["action"], ids, form.options())
    if broker.all_queued([action]):
        messages.success(request, f"{action.get_action_display()}: {len(ids)} item(s), under way.")
    else:
        messages.warning(
            request, f"{action.get_action_display()}: {len(ids)} item(s). {broker.QUEUE_DOWN_MESSAGE}"
        )
    return redirect(action)


def _filter_query(params) -> str:
    return urlencode({k: params[k] for k in ("q", "status") if params.get(k)})


def _upload_limit() -> dict:
    """The one request limit (settings.MAX_UPLOAD_BYTES, also nginx's), shown before a file is chosen."""
    return {"limit_bytes": settings.MAX_UPLOAD_BYTES, "limit_mb": settings.MAX_UPLOAD_BYTES // 2**20}


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required
def upload(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        shared = {k: v for k, v in form.cleaned_data.items() if k != "files" and v}
        created, errors, full = [], [], False
        for f in form.cleaned_data["files"]:
            try:
                created.append(add_item(f, user=request.user, **shared))
            except IngestError as exc:
                errors.append(str(exc))
            except OSError as exc:
                if not is_disk_full(exc):
                    raise
                full = True  # the files stored before this one are kept
                errors.append(f"{f.name} and any files after it were not added. {disk_full_message(exc)}")
                break
        for e in errors:
            messages.error(request, e)
        if full and not created:
            return render(request, "catalog/upload.html", {"form": form, **_upload_limit()}, status=507)
        if created:
            if broker.all_queued(created):
                messages.success(request, f"{len(created)} item(s) added as drafts. Previews are being made.")
            else:
                messages.warning(
                    request, f"{len(created)} item(s) added as drafts. {broker.QUEUE_DOWN_MESSAGE}"
                )
            if len(created) == 1 and not errors:
                return redirect("catalog:item", created[0].pk)
            return redirect("catalog:dashboard")
    return render(request, "catalog/upload.html", {"form": form, **_upload_limit()})


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required
def import_view(request):
    """Step 1: choose the CSV. Step 2: a drop-down of its columns for each field (guessed from their names), the
    first rows as they will be imported (refreshed as the drop-downs change), the files; then import. A POST that
    names its columns (map_<field>) with its CSV imports at once."""
    if request.method != "POST":
        return _import_page(request, ImportForm())
    try:
        csv_bytes, name = _posted_csv(request)
        parsed = importer.read(csv_bytes)
    except ValueError as exc:
        form = ImportForm(request.POST)
        form.is_valid()
        form.add_error("csv_file", str(exc))
        return _import_page(request, form)
    action = request.POST.get("action") or (
        "import" if any(k.startswith("map_") for k in request.POST) else "read"
    )
    context = {"csv": parsed, "csv_name": name, "csv_data": base64.b64encode(csv_bytes).decode()}
    if action == "read":  # a CSV just chosen: the columns guessed from their names
        mapping = importer.guess_mapping(parsed.header, IMPORT_TARGETS)
        initial = {f"map_{t}": c for t, c in mapping.items()} | {"collection": request.POST.get("collection")}
        form = ImportForm(initial=initial, header=parsed.header)
    else:
        form = ImportForm(request.POST, request.FILES, header=parsed.header)
        mapping = form.mapping() if form.is_valid() else {}
    if action == "import" and form.is_valid():
        files = {f.name: f for f in form.cleaned_data["files"]}
        report = import_csv(
            csv_bytes, files, mapping, collection=form.cleaned_data["collection"], user=request.user
        )
        if report.created:
            messages.success(request, f"{len(report.created)} item(s) imported.")
        if report.errors:
            messages.error(request, f"{len(report.errors)} row(s) were not imported; see the report below.")
        return _import_page(request, ImportForm(), report=report)
    shown = [t for t in IMPORT_TARGETS if t != "file" and (t in mapping or t == "title")]
    context["preview_columns"] = [IMPORT_LABELS[t].split(" (")[0] for t in shown]
    context["preview"] = importer.preview(parsed, mapping)
    rights = dict(RIGHTS_CHOICES)
    for row in context["preview"]:
        row.cells = [
            rights.get(v, v) if t == "rights" else v for t, v in ((t, row.fields.get(t)) for t in shown)
        ]
    if request.headers.get("X-Import-Preview"):  # site.js refreshes the preview as a drop-down changes
        return render(request, "catalog/import_preview.html", context)
    return _import_page(request, form, **context)


def _posted_csv(request) -> tuple[bytes, str]:
    """The CSV sent in step 1 (a file) or carried back from step 2 (base64); ValueError when none or too large."""
    if upload := request.FILES.get("csv_file"):
        if upload.size > CSV_MAX_BYTES:
            raise ValueError(
                f"the CSV is larger than {CSV_MAX_BYTES // 1_000_000} MB; split it, or import it on the server "
                "with manage.py import_catalog"
            )
        return upload.read(), upload.name
    try:
        data = base64.b64decode(request.POST.get("csv_data", ""), validate=True)
    except ValueError:
        data = b""
    if not data:
        raise ValueError("choose a CSV file")
    return data, request.POST.get("csv_name", "")


def _import_page(request, form: ImportForm, **context):
    return render(request, "catalog/import.html", {"form": form, **context, **_upload_limit()})


@require_safe
@staff_required
def item_detail(request, pk: int):
    item = get_object_or_404(Item.objects.select_related("collection"), pk=pk)
    results = list(item.requests.select_related("model", "requested_by", "approved_by").order_by("-created"))
    if any(r.status == Status.PENDING for r in results):
        typical = queue.typical_seconds()
        for r in results:
            r.place = queue.place(r, typical)
    form = ColorizeForm(item=item)
    initial_hints = _initial_hints(request, item)
    return render(
        request,
        "catalog/item.html",
        {
            "item": item,
            "results": results,
            "form": form,
            "attach_form": None if item.original else AttachForm(),
            "done": [r for r in results if r.status == Status.DONE],
            "history": audit.entries(item),
            "initial_hints": initial_hints,
            "initial_hints_json": json.dumps(initial_hints),  # a data attribute: no inline script (CSP)
            "hint_editor_json": hint_rules.editor_settings(),  # the library's reaches, limits and strength range
            **_film_frames(item),
            **_upload_limit(),
        },
    )


def _film_frames(item: Item) -> dict:
    """What a film's hint editor needs to name frames: its rate (for the timecode) and the frame its poster
    (the item's preview, colorization.media.previews.poster_frame) shows, where the editor starts."""
    if not item.is_film or not item.frame_count:
        return {}
    fps = item.frame_count / item.duration if item.duration else 24
    return {"film_fps": f"{fps:.6g}", "poster_frame": poster_index(item.frame_count)}


def _initial_hints(request, item: Item) -> dict:
    """The hints document the editor starts with: an earlier request's (?hints_from=<request id>, "start a new
    request from these marks"), or the one sent with a submission that was refused (kept in the session by
    hint_rules.keep_refused, shown once, to correct; only its shape is kept here, the editor shows it and the check
    runs again on the next submission). A film's goes by keyframe."""
    source = request.GET.get("hints_from", "")
    if source.isdigit():
        earlier = ColorizationRequest.objects.filter(pk=int(source), item=item).first()
        return dict(earlier.hints) if earlier else {}
    try:
        sent = json.loads(hint_rules.take_refused(request, item.pk) or "{}")
    except (ValueError, RecursionError):  # not JSON, or nested too deeply
        return {}
    if isinstance(sent, list):
        sent = {"points": sent}
    if not isinstance(sent, dict):
        return {}
    if not item.is_film:
        kept = _marks_shape(sent)
    else:
        frames = sent.get("keyframes") if isinstance(sent.get("keyframes"), dict) else {}
        kept = {"keyframes": {k: _marks_shape(v) for k, v in frames.items() if str(k).isdigit()}}
    if isinstance(sent.get("strength"), int | float) and not isinstance(sent["strength"], bool):
        kept["strength"] = sent["strength"]
    return kept


def _marks_shape(sent: object) -> dict:
    """The points and strokes of a sent hints document that have the shape of marks, at most as many as taken."""
    kept = {}
    for key, most in (("points", MAX_POINTS), ("strokes", MAX_STROKES)):
        marks = sent.get(key) if isinstance(sent, dict) else None
        if isinstance(marks, list):
            kept[key] = [m for m in marks if isinstance(m, dict)][:most]
    return kept


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required
def item_edit(request, pk: int):
    item = get_object_or_404(Item, pk=pk)
    form = ItemForm(request.POST or None, instance=item)
    if request.method == "POST" and form.is_valid():
        item = form.save(commit=False)
        # the form's fields only: a preview worker may have stored the previews and sizes since the row was read
        item.save(update_fields=[*form.Meta.fields, "updated"])
        messages.success(request, "Metadata saved.")
        return redirect("catalog:item", item.pk)
    return render(request, "catalog/item_edit.html", {"item": item, "form": form})


@staff_required
@require_POST
def item_attach(request, pk: int):
    """Attach the original to a record imported without its file (an original, once there, is never replaced)."""
    item = get_object_or_404(Item, pk=pk)
    form = AttachForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose the file to attach.")
        return redirect("catalog:item", item.pk)
    try:
        attach_original(item, form.cleaned_data["file"])
    except IngestError as exc:
        messages.error(request, str(exc))
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        messages.error(request, f"The file was not attached. {disk_full_message(exc)}")
    else:
        done = f"{item.original_name} is attached to “{item.title}”."
        if broker.all_queued([item]):
            messages.success(request, f"{done} Its preview is being made.")
        else:
            messages.warning(request, f"{done} {broker.QUEUE_DOWN_MESSAGE}")
    return redirect("catalog:item", item.pk)


@staff_required
@require_POST
def item_publish(request, pk: int):
    item = get_object_or_404(Item, pk=pk)
    if request.POST.get("action") == "unpublish":
        item.unpublish()
        messages.success(request, f"“{item.title}” is a draft again and hidden from the public.")
    else:
        try:
            item.publish()
            messages.success(request, f"“{item.title}” is published.")
        except ValueError as exc:
            messages.error(request, str(exc))
    return redirect("catalog:item", item.pk)


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required
def collection_new(request):
    form = CollectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        collection = form.save()
        messages.success(request, f"Collection “{collection.title}” created.")
        return redirect("catalog:dashboard")
    return render(request, "catalog/collection_form.html", {"form": form})


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required
def item_trash(request, pk: int):
    """GET asks for confirmation; POST moves the item and its results to the Trash (restorable until purged)."""
    item = get_object_or_404(Item, pk=pk)
    if request.method == "POST":
        trash.trash_item(item, request.user)
        messages.success(
            request,
            f"“{item.title}” was moved to the Trash. It can be restored from there for {settings.TRASH_DAYS} days.",
        )
        return redirect("catalog:dashboard")
    return render(
        request,
        "catalog/item_trash.html",
        {"item": item, "results": item.requests.count(), "days": settings.TRASH_DAYS},
    )


@require_safe
@staff_required
def trash_list(request):
    entries = list(trash.in_trash())
    for entry in entries:
        entry.purge_date = trash.purge_date(entry)
    return render(request, "catalog/trash.html", {"entries": entries, "days": settings.TRASH_DAYS})


@staff_required
@require_POST
def trash_restore(request, pk: int):
    entry = get_object_or_404(TrashEntry, pk=pk)
    try:
        trash.restore(entry, request.user)
    except trash.TrashError as exc:
        messages.error(request, str(exc))
        return redirect("catalog:trash")
    messages.success(request, f"Restored {entry}.")
    if entry.kind == TrashEntry.Kind.ITEM:
        return redirect("catalog:item", entry.object_id)
    return redirect("catalog:trash")


@admin_required  # purging by hand cannot be undone; staff wait for the scheduled purge
@require_POST
def trash_purge(request, pk: int):
    entry = get_object_or_404(TrashEntry, pk=pk)
    try:
        trash.purge_entry(entry)
    except trash.TrashError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Purged {entry}: its files are gone; the record of its deletion stays.")
    return redirect("catalog:trash")
