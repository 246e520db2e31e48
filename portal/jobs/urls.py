from django.urls import path

from portal.jobs import views

app_name = "jobs"
urlpatterns = [
    path("", views.request_list, name="requests"),
    path("items/<int:item_pk>/colorize/", views.submit, name="submit"),
    path("items/<int:item_pk>/hint-preview/", views.hint_preview, name="hint_preview"),
    path("hint-previews/<int:pk>.json", views.hint_preview_status, name="hint_preview_status"),
    path("hint-previews/<int:pk>.jpg", views.hint_preview_image, name="hint_preview_image"),
    path(
        "hint-previews/<int:pk>-still.jpg",
        views.hint_preview_image,
        {"still": True},
        name="hint_preview_still",
    ),
    path("requests/<int:pk>/", views.request_detail, name="request"),
    path("requests/<int:pk>/status.json", views.request_status, name="request_status"),
    path("requests/<int:pk>/<str:action>/", views.request_action, name="request_action"),
    path("bulk/<int:pk>/", views.bulk, name="bulk"),
    path("bulk/<int:pk>/cancel/", views.bulk_cancel, name="bulk_cancel"),
    path("notifications/", views.notifications, name="notifications"),
    path("training/", views.training, name="training"),
    path("training/runs/<int:pk>/", views.training_run, name="training_run"),
    path("training/runs/<int:pk>/cancel/", views.training_run_cancel, name="training_run_cancel"),
    path("models/<int:pk>/promote/", views.promote, name="promote"),
    path("models/<int:pk>/compare/", views.compare, name="compare"),
    path("models/roll-back/", views.roll_back, name="roll_back"),
]
