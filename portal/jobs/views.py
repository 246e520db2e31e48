"""Staff: request colorizations, watch them, approve results. Admins: training, models, promotion."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from portal import audit, broker
from portal.catalog.ingest import IngestError, check_upload, sha256_of
from portal.catalog.models import Item
from portal.catalog.permissions import admin_required, staff_required
from portal.jobs import hints, promotion, queue, services
from portal.jobs.charts import line_chart
from portal.jobs.figures import SETS, named
from portal.jobs.forms import ColorizeForm, HintPreviewForm, ModelUploadForm, SourceForm, TrainingForm
from portal.jobs.models import (
    BulkAction,
    ColorizationRequest,
    ColorModel,
    HintPreview,
    Notification,
    Status,
    TrainingRun,
    TrainingSource,
)
from portal.storage import store_then_save


@staff_required
@require_POST
def submit(request, item_pk: int):
    item = get_object_or_404(Item, pk=item_pk)
    form = ColorizeForm(request.POST, item=item)
    if form.is_valid():
        options = form.options()
        try:
            reqs = services.submit(request.user, item, list(form.cleaned_data["models"]), options)
        except services.SubmitError as exc:
            messages.error(request, str(exc))
        else:
            hinted = hints.summary(options.get("hints"))
            with_hints = f" with {hinted}" if hinted else ""
            _say_queued(request, reqs, f"{len(reqs)} colorization request(s) queued{with_hints}.")
            return redirect("catalog:item", item.pk)
    else:
        if "models" in form.errors:
            messages.error(request, "Choose at least one model.")
        for error in form.errors.get("hints", []):
            messages.error(request, error)
    if request.POST.get("hints"):  # the marks placed stay in the editor, to be corrected
        hints.keep_refused(request, item.pk, request.POST["hints"])
    return redirect("catalog:item", item.pk)


@staff_required
@require_POST
def hint_preview(request, item_pk: int):
    """Queue the hint editor's quick preview; the page polls the answer's status URL."""
    item = get_object_or_404(Item, pk=item_pk)
    form = HintPreviewForm(request.POST, item=item)
    if not form.is_valid():
        errors = [e for field in form.errors.values() for e in field]
        return JsonResponse({"error": " ".join(errors)}, status=400)
    data = form.cleaned_data
    try:
        row = services.preview_hints(request.user, item, data["model"], data["hints"], data.get("frame"))
    except services.SubmitError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    if not broker.all_queued([row]):
        return JsonResponse(
            {"error": "The work queue cannot be reached right now; try the preview later."}, status=503
        )
    return JsonResponse(
        {"id": row.pk, "status_url": reverse("jobs:hint_preview_status", args=[row.pk])}, status=202
    )


@require_safe
@staff_required
def hint_preview_status(request, pk: int):
    row = get_object_or_404(HintPreview.objects.defer("image", "still"), pk=pk)
    on = row.hints if row.frame is None else hints.on_frame(row.hints, row.frame)
    answer = {
        "id": row.pk,
        "status": row.status,
        "error": row.error,
        "note": row.note,
        "marks": hints.count(on),
        "frame": row.frame,
    }
    if row.status == Status.DONE:
        answer["image_url"] = reverse("jobs:hint_preview_image", args=[row.pk])
        answer["seconds"] = row.seconds
        if row.frame is not None:
            answer["still_url"] = reverse("jobs:hint_preview_still", args=[row.pk])
    return JsonResponse(answer)


@require_safe
@staff_required
def hint_preview_image(request, pk: int, still: bool = False):
    """The preview's JPEG; `still`: a film's frame as it is (the picture the editor places marks on)."""
    row = get_object_or_404(HintPreview, pk=pk, status=Status.DONE)
    response = HttpResponse(bytes(row.still if still else row.image), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=600"
    return response


@require_safe
@staff_required
def request_list(request):
    reqs = ColorizationRequest.objects.select_related("item", "model", "requested_by")
    status = request.GET.get("status")
    if status in Status.values:
        reqs = reqs.filter(status=status)
    page = Paginator(reqs, 40).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    ahead = queue.ahead_of(page.object_list)
    for r in page.object_list:
        r.ahead = ahead.get(r.pk)
    return render(
        request, "jobs/request_list.html", {"page": page, "status": status, "statuses": Status.choices}
    )


@require_safe
@staff_required
def request_detail(request, pk: int):
    req = get_object_or_404(ColorizationRequest.objects.select_related("item", "model"), pk=pk)
    return render(
        request,
        "jobs/request_detail.html",
        {
            "req": req,
            "segments": req.segments.select_related("request__item"),
            "history": audit.entries(req),
            "place": queue.place(req, queue.typical_seconds()),
        },
    )


@require_safe
@staff_required
def request_status(request, pk: int):
    req = get_object_or_404(ColorizationRequest, pk=pk)
    return JsonResponse({"id": req.pk, "status": req.status, "progress": req.percent, "error": req.error})


@staff_required
@require_POST
def request_action(request, pk: int, action: str):
    if action not in ("approve", "unapprove", "cancel", "retry"):
        raise Http404("unknown action")
    req = get_object_or_404(ColorizationRequest, pk=pk)
    if action == "approve":
        if req.status != Status.DONE:
            messages.error(request, "Only a finished result can be approved.")
        else:
            req.approve(request.user)
            note = "" if req.item.is_published else " It shows in the gallery once the item is published."
            messages.success(request, f"The result of {req.model.name} is approved for publication.{note}")
    elif action == "unapprove":
        req.withdraw_approval()
        messages.success(request, "Approval withdrawn: the result is hidden from the public.")
    elif action == "cancel":
        if req.cancel(by=request.user):
            messages.success(request, "Request cancelled; its worker stops within seconds.")
    elif action == "retry":
        try:
            again = services.retry(req)
        except services.SubmitError as exc:
            messages.error(request, str(exc))
        else:
            _say_queued(request, [again], "Queued again as a new request.")
    return _back(request, "catalog:item", req.item_id)


def _say_queued(request, rows, text: str) -> None:
    if broker.all_queued(rows):
        messages.success(request, text)
    else:
        messages.warning(request, broker.QUEUE_DOWN_MESSAGE)


def _back(request, fallback: str, *args):
    """Return to the page the form came from (same site only), else to `fallback`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(fallback, *args)


@require_safe
@staff_required
def bulk(request, pk: int):
    action = get_object_or_404(BulkAction, pk=pk)
    return render(request, "jobs/bulk.html", {"action": action})


@staff_required
@require_POST
def bulk_cancel(request, pk: int):
    action = get_object_or_404(BulkAction, pk=pk)
    if action.cancel(by=request.user):
        messages.success(
            request, "Bulk action cancelled: the items done so far stay done, the rest are left as they were."
        )
    return redirect(action)


@require_safe
@login_required
def notifications(request):
    """The signed-in person's notifications, newest first; showing them marks them read."""
    notes = list(Notification.objects.filter(user=request.user)[:100])
    Notification.objects.filter(user=request.user, read=False).update(read=True)
    return render(
        request, "jobs/notifications.html", {"notes": notes, "mail_configured": settings.MAIL_CONFIGURED}
    )


# ---- admins: training and models


@require_http_methods(["GET", "HEAD", "POST"])
@admin_required
def training(request):
    train_form = TrainingForm(prefix="train")
    source_form = SourceForm(prefix="source")
    model_form = ModelUploadForm(prefix="model")
    if request.method == "POST":
        which = request.POST.get("form")
        if which == "train":
            train_form = TrainingForm(request.POST, prefix="train")
            if train_form.is_valid():
                run = services.start_training(
                    request.user,
                    train_form.cleaned_data["name"],
                    train_form.overrides(),
                    train_form.build_options(),
                    start_from=train_form.start_from(),
                )
                _say_queued(request, [run], f"Training run #{run.pk} queued.")
                return redirect("jobs:training_run", run.pk)
        elif which == "source":
            source_form = SourceForm(request.POST, request.FILES, prefix="source")
            if source_form.is_valid():
                added = _add_sources(request, source_form.cleaned_data["files"])
                if added:
                    messages.success(
                        request,
                        f"{added} training film{pluralize(added)} or photograph{pluralize(added)} added.",
                    )
                return redirect("jobs:training")
        elif which == "model":
            model_form = ModelUploadForm(request.POST, request.FILES, prefix="model")
            if model_form.is_valid():
                data = model_form.cleaned_data
                model = services.register_model(
                    data["name"], data["checkpoint"], data["description"], data["make_default"]
                )
                note = (
                    " It becomes the default once the file passes."
                    if model.info.get("promote_when_inspected")
                    else ""
                )
                _say_queued(
                    request, [model], f"Model {model.name} registered; a worker is checking the file.{note}"
                )
                return redirect("jobs:training")
    return render(request, "jobs/training.html", {
        "train_form": train_form, "source_form": source_form, "model_form": model_form,
        "runs": TrainingRun.objects.select_related("result_model")[:20],
        "sources": TrainingSource.objects.all()[:100], "promotions": promotion.history(), "models": ColorModel.objects.select_related("promoted_from"),
    })  # fmt: skip


def _add_sources(request, files) -> int:
    added = 0
    for f in files:
        try:
            check_upload(f)
        except IngestError as exc:
            messages.error(request, str(exc))
            continue
        digest = sha256_of(f)
        if TrainingSource.objects.filter(sha256=digest).exists():
            messages.warning(request, f"{f.name}: already a training source")
            continue
        source = TrainingSource(title=f.name, sha256=digest, size=f.size, added_by=request.user)
        store_then_save(source, {"file": (f, f.name)})
        added += 1
    return added


@require_safe
@admin_required
def training_run(request, pk: int):
    run = get_object_or_404(TrainingRun.objects.select_related("result_model", "start_from"), pk=pk)
    charts = []
    epochs = [p for p in run.curve if p.get("event") == "epoch"]
    steps = [p for p in run.curve if p.get("event") == "step"]
    for rows, x, keys, title in (
        (epochs, "epoch", ("train_loss", "val_loss"), "Loss per epoch"),
        (epochs, "epoch", ("train_mae", "val_mae"), "Colour error (MAE of ab) per epoch"),
        (steps, "step", ("loss",), "Training loss per step"),
    ):
        series = {_legend(k): [(p[x], p[k]) for p in rows if isinstance(p.get(k), int | float)] for k in keys}
        series = {k: v for k, v in series.items() if v}
        if series:
            charts.append({"title": title, "svg": line_chart(series)})
    figures = named(run.metrics, ColorModel.HEADLINE_METRICS)
    return render(request, "jobs/training_run.html", {"run": run, "charts": charts, "figures": figures})


def _legend(key: str) -> str:
    """A curve's set in words ("val_loss": validation frames); the chart's title names the measure."""
    prefix = key.partition("_")[0]
    return SETS[prefix].split()[0] if prefix in SETS and "_" in key else key


@admin_required
@require_POST
def training_run_cancel(request, pk: int):
    run = get_object_or_404(TrainingRun, pk=pk)
    if run.cancel(by=request.user):
        messages.success(request, f"Training run #{run.pk} cancelled; its worker stops within seconds.")
    else:
        messages.info(
            request, f"Training run #{run.pk} had already ended ({run.get_status_display().lower()})."
        )
    return redirect("jobs:training_run", run.pk)


@require_http_methods(["GET", "HEAD", "POST"])
@admin_required
def promote(request, pk: int):
    """The candidate's figures beside the current default's and a compare sheet; promoting a model with any
    figure worse on the same set needs a ticked confirmation, and one that takes no hints where the default
    does needs one of its own."""
    model = get_object_or_404(ColorModel, pk=pk)
    current = ColorModel.objects.filter(is_default=True).exclude(pk=model.pk).first()
    comparison = promotion.compare_figures(model, current)
    worse = [f for f in comparison.figures if f.verdict == "worse"]
    drops_hints = promotion.drops_hints(model, current)
    if request.method == "POST":
        if model.info.get("error"):
            messages.error(request, f"{model.name} cannot be promoted: {model.info['error']}")
            return _back(request, "jobs:training")
        if drops_hints and not request.POST.get("confirm_no_hints"):
            messages.error(
                request,
                f"{model.name} takes no colour hints and {current.name} does: as the default, it would ignore "
                "every hint placed in the hint editor. Tick the hint confirmation to promote it anyway.",
            )
        elif worse and not request.POST.get("confirm"):
            names = "; ".join(f.about.label for f in worse)
            messages.error(
                request,
                f"{model.name} is worse than {current.name} on {len(worse)} figure{pluralize(len(worse))}: "
                f"{names}. Look at the comparison, then tick the confirmation to promote it anyway.",
            )
        else:
            model.promote()
            back = f" Roll back to {current.name} in one step on the Training page." if current else ""
            messages.success(request, f"{model.name} is now the default model for new requests.{back}")
            return _back(request, "jobs:training")
    return render(request, "jobs/promote.html", {
        "model": model, "current": current, "figures": comparison.figures, "sets": comparison.sets,
        "judged": comparison.judged, "worse": worse, "drops_hints": drops_hints,
        "without_historical": promotion.without_historical(model, current, comparison.figures),
        "sheet": promotion.compare_sheet(model, current), "to_compare": promotion.photos_to_compare(model, current),
    })  # fmt: skip


@admin_required
@require_POST
def compare(request, pk: int):
    """Colorize a few recent catalogue photographs with the candidate and the default, for the compare sheet."""
    model = get_object_or_404(ColorModel, pk=pk)
    current = ColorModel.objects.filter(is_default=True).exclude(pk=model.pk).first()
    queued = 0
    for item, missing in promotion.photos_to_compare(model, current):
        queued += len(services.submit(request.user, item, missing))
    messages.success(request, f"{queued} colorization{pluralize(queued)} queued for the compare sheet.")
    return redirect("jobs:promote", model.pk)


@admin_required
@require_POST
def roll_back(request):
    current = ColorModel.objects.filter(is_default=True).first()
    try:
        previous = current.roll_back() if current else None
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        if previous is None:
            messages.error(request, "There is no default model to roll back.")
        else:
            messages.success(request, f"{previous.name} is the default again (instead of {current.name}).")
    return redirect("jobs:training")
