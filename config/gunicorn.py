"""gunicorn settings (``--config python:config.gunicorn``)."""

from __future__ import annotations

import logging
import os
from typing import Any

from core.collector import tune_for_web


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the shared metrics directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker: Any) -> None:
    """Each worker, once Django is loaded: warmed up, then the collector leaves the imported
    heap alone (CPython's thresholds kept: short pauses, ``core/collector.py``)."""
    warm_up()
    tune_for_web()


def warm_up() -> None:
    """What each worker's first requests paid for, done before it serves: the URL patterns
    with every view and serializer they import (~150 ms on the first request), and the
    broker's connection (~200 ms on the first mailing that launches at once). Best effort:
    with the broker down, the first launch connects (``enqueue_launch`` says if it cannot)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 -- imports the URL modules
    from config.celery import app

    try:
        with app.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=0)
    except Exception:  # the broker may be down at start; sending still works
        logging.getLogger(__name__).warning("broker not reachable at start", exc_info=True)
