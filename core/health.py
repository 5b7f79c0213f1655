"""Readiness checks shared by /readyz and `manage.py check_ready` (the worker's probe)."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from kombu import Connection


def check_database() -> str | None:
    """None when the database answers, else the error."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def check_broker() -> str | None:
    """None when the broker accepts a connection, else the error."""
    url = settings.CELERY_BROKER_URL
    # Our embedded transport only for a filesystem URL; any other URL names its own.
    transport = getattr(settings, "CELERY_BROKER_TRANSPORT", None)
    try:
        with Connection(
            url,
            transport=transport if url.startswith("filesystem://") else None,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            connect_timeout=2,
        ) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def readiness() -> dict[str, str | None]:
    return {"database": check_database(), "broker": check_broker()}
