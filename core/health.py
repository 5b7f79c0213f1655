"""Readiness checks shared by /readyz and `manage.py check_ready` (the worker's probe)."""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from config.celery import app as celery_app


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
    try:
        with celery_app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def readiness() -> dict[str, str | None]:
    return {"database": check_database(), "broker": check_broker()}
