from django.urls import path

from portal.gallery import deepzoom, iiif, oai, public_export, views

app_name = "gallery"
urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("collections/<slug:slug>/", views.collection, name="collection"),
    path("items/<int:pk>/", views.item, name="item"),
    path("oai", oai.oai, name="oai"),
    path("iiif/collection", iiif.top_collection, name="iiif_top"),
    path("iiif/items/<int:pk>/manifest", iiif.item_manifest, name="iiif_item"),
    path("iiif/collections/<slug:slug>", iiif.collection_manifest, name="iiif_collection"),
    # the deep zoom tiles: the proxy serves this path itself (docker/nginx); the embedded setup only comes here
    path(f"{deepzoom.PREFIX}/<path:path>", views.serve_tile, name="iiif_tile"),
    path("catalogue.csv", public_export.catalogue_csv, name="catalogue_csv"),
    path("catalogue.json", public_export.catalogue_json, name="catalogue_json"),
    path("robots.txt", views.robots_txt, name="robots"),
    path("sitemap.xml", views.sitemap_index, name="sitemap"),
    path("sitemap-<slug:section>.xml", views.sitemap_section, name="sitemap_section"),
    path("files/items/<int:pk>/<str:kind>", views.serve_item_file, name="item_file"),
    path("files/results/<int:pk>/<str:kind>", views.serve_result_file, name="result_file"),
]
