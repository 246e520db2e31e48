from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.http import HttpResponseRedirect
from django.urls import reverse

from portal.catalog import trash
from portal.catalog.models import Collection, Item, TrashEntry


class MovesToTrash:
    """A ModelAdmin whose delete_model/delete_queryset move rows to the Trash says so, as the portal does,
    instead of Django's "deleted successfully"."""

    delete_confirmation_template = "admin/move_to_trash_confirmation.html"

    def _moved(self, what: str) -> str:
        return f"{what} moved to the Trash: restorable there for {settings.TRASH_DAYS} days."

    def response_delete(self, request, obj_display, obj_id):
        self.message_user(request, self._moved(f"The {self.opts.verbose_name} “{obj_display}” was"))
        changelist = f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"
        return HttpResponseRedirect(reverse(changelist, current_app=self.admin_site.name))

    @admin.action(
        permissions=["delete"], description="Move the selected %(verbose_name_plural)s to the Trash"
    )
    def delete_selected(self, request, queryset):
        """Same name as Django's action (its confirmation page posts back to it); the deletion is ours."""
        if not request.POST.get("post"):
            return django_delete_selected(self, request, queryset)  # the confirmation page
        n = queryset.count()
        self.delete_queryset(request, queryset)
        name = self.opts.verbose_name if n == 1 else self.opts.verbose_name_plural
        self.message_user(request, self._moved(f"{n} {name} {'was' if n == 1 else 'were'}"))
        return None


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    prepopulated_fields = {"slug": ["title"]}
    search_fields = ["title"]


class FixityFilter(admin.SimpleListFilter):
    title = "fixity"
    parameter_name = "fixity"

    def lookups(self, request, model_admin):
        return [("failed", "Failed the check"), ("sound", "Sound")]

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.exclude(fixity_error="")
        if self.value() == "sound":
            return queryset.filter(fixity_error="")
        return queryset


@admin.register(Item)
class ItemAdmin(MovesToTrash, admin.ModelAdmin):
    list_display = ["title", "type", "collection", "status", "date", "place", "created", "fixity_sound"]
    list_filter = ["status", "type", "collection", FixityFilter]
    search_fields = ["title", "description", "people", "place", "source_identifier", "sha256"]
    readonly_fields = [
        "original",
        "original_name",
        "sha256",
        "size",
        "width",
        "height",
        "frame_count",
        "media_error",
        "preview_attempts",
        "fixity_error",
        "fixity_checked",
    ]
    actions = ["delete_selected", "publish", "unpublish"]

    def delete_model(self, request, obj) -> None:
        trash.trash_item(obj, request.user)  # to the trash, with its results: restorable until purged

    def delete_queryset(self, request, queryset) -> None:
        for item in queryset:
            trash.trash_item(item, request.user)

    @admin.display(boolean=True, description="fixity")
    def fixity_sound(self, item: Item) -> bool:
        return not item.fixity_error

    def has_add_permission(self, request) -> bool:
        return False  # originals come in through the catalogue's upload and import pages (hashing, previews)

    @admin.action(description="Publish the selected items")
    def publish(self, request, queryset):
        for item in queryset:
            try:
                item.publish()
            except ValueError as exc:
                self.message_user(request, str(exc), level="error")

    @admin.action(description="Return the selected items to draft")
    def unpublish(self, request, queryset):
        # one save each, as the publish action: the audit trail records it, and `updated` moves, which is the
        # withdrawal's datestamp for OAI-PMH harvesters (a queryset update() would change neither)
        for item in queryset.filter(status=Item.Status.PUBLISHED):
            item.unpublish()


@admin.register(TrashEntry)
class TrashAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "deleted_by", "deleted_at", "state", "restored_at", "purged_at"]
    list_filter = ["kind"]
    readonly_fields = ["kind", "object_id", "label", "files", "deleted_by", "deleted_at", "restored_by",
                       "restored_at", "purged_at"]  # fmt: skip
    exclude = ["rows"]
    actions = ["restore"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the entry is the record of the deletion; purge_trash removes its files

    @admin.action(description="Restore the selected items or results")
    def restore(self, request, queryset):
        for entry in queryset:
            try:
                trash.restore(entry, request.user)
            except trash.TrashError as exc:
                self.message_user(request, str(exc), level=messages.ERROR)
            else:
                self.message_user(request, f"Restored {entry}.")
