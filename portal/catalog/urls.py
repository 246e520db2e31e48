from django.urls import path

from portal.catalog import views

app_name = "catalog"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("bulk/", views.bulk, name="bulk"),
    path("upload/", views.upload, name="upload"),
    path("import/", views.import_view, name="import"),
    path("collections/new/", views.collection_new, name="collection_new"),
    path("items/<int:pk>/", views.item_detail, name="item"),
    path("items/<int:pk>/edit/", views.item_edit, name="item_edit"),
    path("items/<int:pk>/attach/", views.item_attach, name="item_attach"),
    path("items/<int:pk>/publish/", views.item_publish, name="item_publish"),
    path("items/<int:pk>/trash/", views.item_trash, name="item_trash"),
    path("trash/", views.trash_list, name="trash"),
    path("trash/<int:pk>/restore/", views.trash_restore, name="trash_restore"),
    path("trash/<int:pk>/purge/", views.trash_purge, name="trash_purge"),
]
