from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "portal.catalog"
    label = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from portal.catalog import search

        connection_created.connect(search.add_sqlite_function, dispatch_uid="colorarchive-unaccent")
