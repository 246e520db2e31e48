"""The Celery app. Settings come from Django's (namespace CELERY_); tasks live in `workers.tasks`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal", include=["workers.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
