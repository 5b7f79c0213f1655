"""Celery tasks of mailings: thin entry points that call services with primitive ids."""

from __future__ import annotations

from celery import current_app, shared_task
from django.conf import settings

from mailings import selectors, services

# The dispatcher lives in ``delivery``, the layer above; a launch wakes it by its task name
# (a message on the queue), so this app does not import delivery. delivery/tasks.py
# registers its task under this name.
DISPATCH_TASK = "delivery.tasks.dispatch"


@shared_task(name="mailings.tasks.mailing_launch", ignore_result=True)
def mailing_launch(mailing_id: int) -> None:
    """Launch a due mailing (or go on with a launch a pause interrupted), and start the
    dispatchers as soon as its first messages exist, without waiting for the next tick."""
    woken = False

    def wake_dispatchers() -> None:
        nonlocal woken
        woken = True
        # One per slot: those that find every slot taken return at once.
        for _ in range(settings.DISPATCH_SLOTS):
            current_app.send_task(DISPATCH_TASK)

    launched = services.mailing_launch(mailing_id=mailing_id, sendable=wake_dispatchers)
    if not launched:
        services.mailing_populate(mailing_id=mailing_id, sendable=wake_dispatchers)
    if not woken and selectors.due_work_exists():
        wake_dispatchers()
