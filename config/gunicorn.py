"""gunicorn settings (``--config python:config.gunicorn``)."""

from __future__ import annotations

import os
from typing import Any


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the shared metrics directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker: Any) -> None:
    """Each worker, once Django is loaded: the collector leaves the imported heap alone."""
    from core.collector import tune_for_service

    tune_for_service()
