"""`manage.py sync_tiles`: bring every item's deep zoom tiles in line with what may be seen now: queue the
pyramids published photographs lack (items published before deep zoom existed, or while the queue was down)
and take down any that may no longer be seen. Safe to repeat."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from portal.catalog.models import Item
from portal.gallery import deepzoom


class Command(BaseCommand):
    help = "Queue the deep zoom tiles published photographs lack; take down those no longer public."

    def handle(self, *args, **options) -> None:
        pks = list(Item.objects.order_by("pk").values_list("pk", flat=True))
        for pk in pks:
            deepzoom.sync(pk)
        self.stdout.write(f"{len(pks)} item(s) checked.")
