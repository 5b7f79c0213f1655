"""The scheduler's transitions of a mailing: launch, then finish (end time, or every message
final).

A launch creates the messages in chunks of ``LAUNCH_CHUNK`` clients (in client id order; the
first one ``LAUNCH_FIRST_CHUNK``, so sending starts within a few hundredths of a second, and
each next one twice the one before up to ``LAUNCH_CHUNK``, so the dispatchers, speeding up,
do not run out of committed messages while a large chunk is still being written), each
chunk one transaction under the mailing's row lock (``FOR NO KEY UPDATE``: dispatchers
claim the committed chunks' messages meanwhile), and records how far it got
(``launch_cursor``). So a cancel, a delete (or a pause) waits for at most one chunk, and the
next chunk sees it and stops: a mailing deleted mid-launch leaves no message behind, and a
3,000,000-client launch does not hold anyone for minutes. A launch cut short by a crash is
resumed by the scheduler tick from its cursor; two launchers of one mailing take turns, chunk
by chunk, and ``ON CONFLICT DO NOTHING`` makes any repeat harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from mailings import selectors
from mailings.messages import messages_create, messages_expire, messages_schedule_window
from mailings.models import UNDELIVERED_MESSAGE_STATUSES, Mailing, MailingStatus, Message

logger = logging.getLogger(__name__)

LAUNCH_CHUNK = 20_000  # clients per transaction: ~0.2 s of PostgreSQL's time
# The first chunk: enough for every dispatcher's first claim, committed in ~25 ms rather than
# ~0.25 s (benchmark 3: the first request left 0.28 s after the POST; 0.2 s of it was this).
# The chunks after it double (4,000, 8,000, 16,000, then 20,000): straight from 2,000 to
# 20,000, the dispatchers at 200 ms of latency had sent the first chunk before the second
# committed, and waited (benchmark 3: 1,600-1,900 messages delivered 1.2-1.8 s after the
# POST against 3,700-4,500 by 1.5 s with the doubling).
LAUNCH_FIRST_CHUNK = 2_000
# A launch whose last chunk is older than this is taken to have stopped (its worker died).
LAUNCH_STALL_SECONDS = 30.0


def mailing_launch(*, mailing_id: int, sendable: Callable[[], None] | None = None) -> bool:
    """Move a due scheduled mailing to running, then create its messages.

    Idempotent: the conditional update lets exactly one caller win; the others (a retried
    task, the scheduler tick) find it running and do nothing. Returns whether this call
    launched it. ``sendable`` is called once, as soon as a first chunk of messages is
    committed (sending starts while the rest are created).
    """
    now = timezone.now()
    won = Mailing.objects.filter(
        pk=mailing_id, status=MailingStatus.SCHEDULED, start_at__lte=now
    ).update(status=MailingStatus.RUNNING, started_at=now, launch_progress_at=now)
    if not won:
        return False
    created = mailing_populate(mailing_id=mailing_id, sendable=sendable)
    logger.info("mailing launched", extra={"mailing_id": mailing_id, "messages": created})
    return True


def mailing_populate(*, mailing_id: int, sendable: Callable[[], None] | None = None) -> int:
    """Create a running mailing's messages, chunk by chunk, until every matching client has
    one or the mailing stops being running (cancelled, deleted, paused, ended). Returns how
    many this call created; calls ``sendable`` once the first chunk with messages commits."""
    created = 0
    limit = LAUNCH_FIRST_CHUNK
    while True:
        with transaction.atomic():
            # FOR NO KEY UPDATE: launchers of one mailing and the operators' actions (FOR
            # UPDATE) wait for each other, chunk by chunk; claims (FOR KEY SHARE) do not, so
            # the messages of the chunks already committed are sent during the launch.
            mailing = Mailing.objects.select_for_update(no_key=True).filter(pk=mailing_id).first()
            if mailing is None or mailing.status != MailingStatus.RUNNING:
                break
            if mailing.launched_at is not None:
                break
            chunk, complete = _populate_chunk(mailing, limit=limit)
        limit = min(limit * 2, LAUNCH_CHUNK)
        if chunk and not created and sendable is not None:
            sendable()
        created += chunk
        if complete:
            break
    return created


def _populate_chunk(mailing: Mailing, *, limit: int) -> tuple[int, bool]:
    """One chunk of ``limit`` clients, under the mailing's lock (the caller's transaction):
    (created, complete)."""
    now = timezone.now()
    created, last = messages_create(
        mailing=mailing, after_client=mailing.launch_cursor, limit=limit, now=now
    )
    if mailing.window is not None and created:
        messages_schedule_window(mailing=mailing, now=now, new_only=True)
    mailing.launch_progress_at = now
    fields = ["launch_progress_at"]
    if last is None:
        mailing.launched_at = now
        fields.append("launched_at")
        if not Message.objects.filter(mailing_id=mailing.pk).exists():
            mailing.status, mailing.finished_at = MailingStatus.FINISHED, now
            fields += ["status", "finished_at"]
    else:
        mailing.launch_cursor = last
        fields.append("launch_cursor")
    mailing.save(update_fields=fields)
    return created, last is None


def mailings_launch_stalled(*, now: datetime | None = None) -> list[int]:
    """Resume the launches whose launcher stopped (a worker killed mid-launch)."""
    now = now or timezone.now()
    stalled = selectors.mailings_launching(before=now - timedelta(seconds=LAUNCH_STALL_SECONDS))
    for mailing_id in stalled:
        logger.warning("resuming a stalled launch", extra={"mailing_id": mailing_id})
        mailing_populate(mailing_id=mailing_id)
    return stalled


def mailings_finish_ended(*, leases_may_lapse: bool = True) -> list[int]:
    """At ``end_at``: a launch still running stops, undelivered messages become ``expired``
    and the mailing ``finished``.

    A message still ``sending`` under a live lease is left to record its real outcome; it
    is expired once its lease lapses (and the scheduler says leases may lapse now), and the
    mailing finishes then.
    """
    now = timezone.now()
    finished: list[int] = []
    for mailing_id in selectors.mailings_past_end(now=now):
        with transaction.atomic():
            mailing = Mailing.objects.select_for_update().filter(pk=mailing_id).first()
            if mailing is None or mailing.status not in (
                MailingStatus.RUNNING,
                MailingStatus.PAUSED,
            ):
                continue
            if mailing.launched_at is None:
                mailing.launched_at = now
                mailing.save(update_fields=["launched_at"])
            expired = messages_expire(mailing_id=mailing_id, now=now, lapsed_too=leases_may_lapse)
            in_flight = Message.objects.filter(
                mailing_id=mailing_id, status__in=UNDELIVERED_MESSAGE_STATUSES
            ).exists()
            if not in_flight:
                mailing.status, mailing.finished_at = MailingStatus.FINISHED, now
                mailing.save(update_fields=["status", "finished_at"])
                finished.append(mailing_id)
        logger.info("mailing ended", extra={"mailing_id": mailing_id, "expired_messages": expired})
    return finished


def mailings_finish_completed() -> list[int]:
    """A running mailing whose launch is complete and every message final is finished."""
    now = timezone.now()
    undelivered = Message.objects.filter(
        mailing_id=OuterRef("pk"), status__in=UNDELIVERED_MESSAGE_STATUSES
    )
    completed = Mailing.objects.filter(
        status=MailingStatus.RUNNING, launched_at__isnull=False
    ).exclude(Exists(undelivered))
    done = list(completed.values_list("id", flat=True))
    if done:
        completed.filter(id__in=done).update(status=MailingStatus.FINISHED, finished_at=now)
        for mailing_id in done:
            logger.info(
                "mailing finished: every message is final", extra={"mailing_id": mailing_id}
            )
    return done
