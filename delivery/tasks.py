"""Celery tasks of delivery: the scheduler tick and the dispatcher. Thin: they call services.

Beat runs ``tick`` about every second (``SCHEDULER_TICK_SECONDS``); due times live in the
database, so a lost or duplicated tick changes nothing.
"""

from __future__ import annotations

from celery import shared_task

from delivery import breaker, dispatcher, services
from mailings import counters, messages, selectors
from mailings import services as mailing_services
from mailings.tasks import DISPATCH_TASK


@shared_task(name=DISPATCH_TASK, ignore_result=True)
def dispatch() -> None:
    """Run one dispatcher; when its time budget ends with work still due, hand over to a
    fresh one at once rather than at the next tick."""
    report = dispatcher.dispatch_run()
    if report is not None and report.claimed and selectors.due_work_exists():
        dispatch.delay()


@shared_task(name="delivery.tasks.tick", ignore_result=True)
def tick() -> None:
    """1. Launch mailings whose start has come (and resume a launch whose worker died).
    2. Expire what passed its end time.
    3. Return messages of dead dispatchers. 4. Finish mailings with nothing left to send.
    5. Fold the message-count deltas into the totals. 6. Start a dispatcher if work is
    due, sending is not paused and a slot is free."""
    for mailing_id in selectors.mailings_due_for_launch():
        mailing_services.mailing_launch(mailing_id=mailing_id)
    mailing_services.mailings_launch_stalled()
    mailing_services.mailings_finish_ended()
    messages.messages_recover_lapsed()
    mailing_services.mailings_finish_completed()
    counters.counts_compact()
    if selectors.due_work_exists() and services.slot_available() and breaker.pause_reason() is None:
        dispatch.delay()
