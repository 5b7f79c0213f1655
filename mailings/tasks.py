"""Celery tasks: thin entry points that call services with primitive ids.

Due times live in the database; beat runs ``tick`` about every second (settings
``CELERY_BEAT_SCHEDULE``), and ``tick`` asks the database what is due. Creating or starting
a mailing also enqueues ``mailing_launch`` on commit, so a launch does not wait for a tick.
"""

from __future__ import annotations

from celery import shared_task

from mailings import services


@shared_task(name="mailings.tasks.mailing_launch", ignore_result=True)
def mailing_launch(mailing_id: int) -> None:
    services.mailing_launch(mailing_id=mailing_id)


@shared_task(name="mailings.tasks.tick", ignore_result=True)
def tick() -> None:
    """Launch due mailings and finish ended ones."""
    for mailing_id in services.mailings_due_for_launch():
        services.mailing_launch(mailing_id=mailing_id)
    services.mailings_finish_ended()
