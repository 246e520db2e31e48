from django.contrib import admin

from portal.catalog.models import Collection, Item


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    prepopulated_fields = {"slug": ["title"]}
    search_fields = ["title"]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["title", "type", "collection", "status", "date", "place", "created"]
    list_filter = ["status", "type", "collection"]
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
    ]
    actions = ["publish", "unpublish"]

    def has_add_permission(self, request) -> bool:
        return False  # originals come in through the catalogue's upload and import pages (hashing, previews)

    @admin.action(description="Publish the selected items")
    def publish(self, request, queryset):
        for item in queryset:
            item.publish()

    @admin.action(description="Return the selected items to draft")
    def unpublish(self, request, queryset):
        queryset.update(status=Item.Status.DRAFT)
