from django.contrib import admin

from portal import broker
from portal.catalog import trash
from portal.catalog.admin import MovesToTrash
from portal.jobs.models import ACTIVE, ColorizationRequest, ColorModel, Segment, TrainingRun, TrainingSource


class CancelBeforeDelete:
    """Deleting a job that is waiting or running cancels it first, so its worker stops (a worker whose row is
    gone stops too, at its next progress report)."""

    def delete_model(self, request, obj) -> None:
        obj.cancel(by=request.user)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for job in queryset.filter(status__in=ACTIVE):
            job.cancel(by=request.user)
        super().delete_queryset(request, queryset)


class SegmentInline(admin.TabularInline):
    model = Segment
    extra = 0
    fields = ["index", "start_frame", "end_frame", "status", "progress", "error"]
    readonly_fields = fields


@admin.register(ColorizationRequest)
class ColorizationRequestAdmin(MovesToTrash, admin.ModelAdmin):
    list_display = ["id", "item", "model", "preset", "status", "progress", "approved", "created"]
    list_filter = ["status", "approved", "preset", "model"]
    readonly_fields = [
        "status",
        "progress",
        "error",
        "provenance",
        "phase",
        "started",
        "finished",
        "attempts",
    ]
    inlines = [SegmentInline]
    actions = ["delete_selected"]

    def delete_model(self, request, obj) -> None:
        trash.trash_result(obj, request.user)  # cancelled first, then to the trash: restorable until purged

    def delete_queryset(self, request, queryset) -> None:
        for req in queryset:
            trash.trash_result(req, request.user)


@admin.register(ColorModel)
class ColorModelAdmin(admin.ModelAdmin):
    list_display = ["name", "is_default", "zoo_name", "created"]
    readonly_fields = ["info"]
    actions = ["promote"]

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if "checkpoint" in form.changed_data or "zoo_name" in form.changed_data:
            broker.send_on_commit(obj, obj.inspect_task_name)  # the sweeper sends it if the broker is down

    @admin.action(description="Make the selected model the default")
    def promote(self, request, queryset):
        if queryset.count() == 1:
            queryset.get().promote()


@admin.register(TrainingRun)
class TrainingRunAdmin(CancelBeforeDelete, admin.ModelAdmin):
    list_display = ["id", "name", "status", "progress", "result_model", "created"]
    readonly_fields = ["status", "progress", "error", "dataset", "metrics", "log", "result_model"]


@admin.register(TrainingSource)
class TrainingSourceAdmin(admin.ModelAdmin):
    list_display = ["title", "size", "created"]
    readonly_fields = ["sha256", "size"]

    def has_add_permission(self, request) -> bool:
        return False  # added on the Training page, which hashes them
