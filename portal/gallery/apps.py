from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "portal.gallery"
    label = "gallery"
    verbose_name = "Public gallery"

    def ready(self) -> None:
        from portal.gallery import deepzoom, public_cache

        public_cache.connect_signals()
        deepzoom.connect_signals()
