from django.urls import path

from portal.gallery import views

app_name = "gallery"
urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("collections/<slug:slug>/", views.collection, name="collection"),
    path("items/<int:pk>/", views.item, name="item"),
    path("files/items/<int:pk>/<str:kind>", views.serve_item_file, name="item_file"),
    path("files/results/<int:pk>/<str:kind>", views.serve_result_file, name="result_file"),
]
