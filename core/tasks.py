"""Celery tasks of core: housekeeping."""

from __future__ import annotations

from celery import shared_task

from core.idempotency import idempotency_purge


@shared_task(name="core.tasks.idempotency_purge", ignore_result=True)
def purge_idempotency_keys() -> None:
    """Forget the Idempotency-Keys older than 24 hours."""
    idempotency_purge()
