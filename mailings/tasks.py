"""Celery tasks of mailings: thin entry points that call services with primitive ids."""

from __future__ import annotations

from celery import shared_task

from mailings import services


@shared_task(name="mailings.tasks.mailing_launch", ignore_result=True)
def mailing_launch(mailing_id: int) -> None:
    """Launch a due mailing, then start a dispatcher without waiting for the next tick."""
    if services.mailing_launch(mailing_id=mailing_id):
        from delivery.tasks import dispatch

        dispatch.delay()
