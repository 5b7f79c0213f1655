"""The Celery application: settings come from Django's (the CELERY_ namespace)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown

from core.collector import tune_for_service

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("mailing_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _tune_collector(**_: object) -> None:
    """Each pool process, once started: the collector leaves the imported heap alone."""
    tune_for_service()


@worker_process_shutdown.connect
def _mark_metrics_process_dead(pid: int | None = None, **_: object) -> None:
    """A pool process that exits takes its live gauges (requests in flight) with it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
