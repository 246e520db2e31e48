from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "portal.catalog"
    label = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_save

        from portal import tokens
        from portal.catalog import search

        connection_created.connect(search.add_sqlite_function, dispatch_uid="colorarchive-unaccent")
        post_save.connect(tokens.revoke_on_password_change, sender=settings.AUTH_USER_MODEL,
                          dispatch_uid="colorarchive-token-revoke")  # fmt: skip
