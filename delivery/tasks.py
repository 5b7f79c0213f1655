"""Celery tasks of delivery: the scheduler tick and the dispatcher. Thin: they call services.

Beat runs ``tick`` about every second (``SCHEDULER_TICK_SECONDS``); due times live in the
database, so a lost or duplicated tick changes nothing. While the database is gone both tasks
log one warning (per process and outage) and return; the next tick after it picks up.
"""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from clients import counters as client_counters
from core.database import OutageLog, close_broken_connection, is_unavailable
from delivery import breaker, dispatcher, services, testsend
from mailings import counters, messages, selectors, testsends
from mailings import services as mailing_services
from mailings.tasks import DISPATCH_TASK

TICK_OUTAGE = OutageLog("scheduler tick")


@shared_task(name=DISPATCH_TASK, ignore_result=True)
def dispatch() -> None:
    """Run one dispatcher; when its time budget ends with work still due, hand over to a
    fresh one at once rather than at the next tick."""
    report = dispatcher.dispatch_run()
    try:
        if report is not None and report.claimed and selectors.due_work_exists():
            dispatch.delay()
    except DatabaseError as exc:
        if not is_unavailable(exc):
            raise
        close_broken_connection()  # the next tick starts one when the database is back


@shared_task(name=testsends.TEST_SEND_TASK, ignore_result=True)
def send_test_sends() -> None:
    """Send the test sends due now (a few rounds, while new ones keep coming)."""
    for _ in range(10):
        if not testsend.send_due_test_sends():
            return


@shared_task(name="delivery.tasks.tick", ignore_result=True)
def tick() -> None:
    """One scheduler tick (``run_tick``); a lost database makes it a no-op, said once."""
    try:
        run_tick()
    except DatabaseError as exc:
        if not is_unavailable(exc):
            raise
        TICK_OUTAGE.down(exc)
        close_broken_connection()
    else:
        TICK_OUTAGE.up()


def start_dispatchers() -> None:
    """A dispatcher for each free slot (those that find the slots taken meanwhile return)."""
    for _ in range(services.slots_free()):
        dispatch.delay()


def run_tick() -> None:
    """1. Note the tick (after a gap, leases do not lapse for a grace period).
    2. Launch mailings whose start has come, starting the dispatchers once their first
    messages exist (and resume a launch whose worker died).
    3. Expire what passed its end time. 4. Return messages of dead dispatchers.
    5. Finish mailings with nothing left to send. 6. Fold the message-count and the
    client-count deltas. 7. If work is due and sending is not paused, start a dispatcher
    for each free slot (all at once: a second slot left for the next tick idled a second).
    8. Send the test sends due (retries, or ones whose worker died)."""
    leases_may_lapse = services.scheduler_record_tick()
    for mailing_id in selectors.mailings_due_for_launch():
        mailing_services.mailing_launch(mailing_id=mailing_id, sendable=start_dispatchers)
    mailing_services.mailings_launch_stalled()
    mailing_services.mailings_finish_ended(leases_may_lapse=leases_may_lapse)
    if leases_may_lapse:
        messages.messages_recover_lapsed()
    mailing_services.mailings_finish_completed()
    counters.counts_compact()
    client_counters.clients_count_compact()
    if selectors.due_work_exists() and breaker.pause_reason() is None:
        start_dispatchers()
    if testsends.due_test_sends_exist():
        send_test_sends.delay()
