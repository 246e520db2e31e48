"""Colorarchive's portal: the Django project. The Celery app loads with Django so `.delay()` finds it."""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
