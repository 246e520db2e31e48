"""Bulk actions over catalogue items: `start` queues one, and a worker applies its step to each item in turn
with progress (workers/tasks.py `bulk_action`; stoppable by cancel).

Each item goes through the same code path a single page uses (Item.publish, ColorizationRequest.approve,
services.submit), so a bulk action means exactly what 200 page visits would have meant.
"""

from __future__ import annotations

from portal.catalog.models import Collection, Item
from portal.jobs import services
from portal.jobs.models import BulkAction, ColorModel, Status

Action = BulkAction.Action
REPORT_LIMIT = 200  # skipped items listed on the action's page


def start(user, action: str, item_ids: list[int], options: dict | None = None) -> BulkAction:
    from django.db import transaction

    with transaction.atomic():
        bulk = BulkAction.objects.create(
            action=action, items=list(item_ids), options=options or {}, requested_by=user
        )
        bulk.enqueue()
    return bulk


def _colorize(bulk: BulkAction, item: Item) -> str | None:
    if not item.original:
        return "no file yet (attach its original first)"
    models = list(ColorModel.objects.filter(pk__in=bulk.options.get("models", [])))
    if not models:
        return "no model chosen"
    options = {"smoothing": bulk.options["smoothing"]} if bulk.options.get("smoothing") else {}
    services.submit(bulk.requested_by, item, models, options, bulk=bulk)
    return None


def _approve(bulk: BulkAction, item: Item) -> str | None:
    default = ColorModel.objects.filter(is_default=True).first()
    if default is None:
        return "there is no default model"
    results = list(item.requests.filter(model=default, status=Status.DONE))
    if not results:
        return f"no finished result by {default.name}"
    if any(r.approved for r in results):
        return f"a result by {default.name} was approved already"
    plain = [r for r in results if not r.options.get("hints")]  # the model's own colours, no staff hints
    if len(plain) != 1:  # which one is meant is for a person to say, on the item's page
        which = "only results guided by hints" if not plain else f"{len(plain)} results without hints"
        return f"{which} by {default.name}: choose one on the item's page"
    plain[0].approve(bulk.requested_by)
    return None


def _publish(bulk: BulkAction, item: Item) -> str | None:
    if item.is_published:
        return "published already"
    if reason := item.unpublishable():
        return reason
    item.publish()
    return None


def _unpublish(bulk: BulkAction, item: Item) -> str | None:
    if not item.is_published:
        return "not published"
    item.unpublish()
    return None


def _collect(bulk: BulkAction, item: Item) -> str | None:
    collection = Collection.objects.filter(pk=bulk.options.get("collection")).first()
    if collection is None:
        return "the collection no longer exists"
    if item.collection_id == collection.pk:
        return f"in {collection.title} already"
    item.collection = collection
    item.save(update_fields=["collection", "updated"])
    return None


STEPS = {
    Action.COLORIZE: _colorize,
    Action.APPROVE: _approve,
    Action.PUBLISH: _publish,
    Action.UNPUBLISH: _unpublish,
    Action.ADD_TO_COLLECTION: _collect,
}
