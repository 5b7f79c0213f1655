"""The Celery application: settings come from Django's (the CELERY_ namespace)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("mailing_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
