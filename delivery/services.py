"""Database side of delivery: claim due messages, write outcomes, hold dispatch slots,
recover lapsed leases, schedule send windows.

Every write is a conditional update on the message's status (and the claim's token), so
two dispatchers, the scheduler and the API can never both move one message.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from delivery.models import DispatchSlot
from delivery.policy import Decision, Kind
from delivery.window import next_opening
from mailings.models import Mailing, MailingStatus, Message, MessageStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    id: int
    mailing_id: int
    client_id: int | None
    phone: str
    text: str
    attempts: int
    end_at: datetime
    window_start: time | None
    window_end: time | None
    timezone: str


@dataclass(frozen=True, slots=True)
class Outcome:
    message: ClaimedMessage
    decision: Decision


def messages_claim(*, limit: int, token: uuid.UUID) -> list[ClaimedMessage]:
    """Take up to ``limit`` due messages of running mailings: ``pending → sending``.

    PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED`` lets concurrent dispatchers take
    disjoint batches without waiting. SQLite: the transaction takes the database's write
    lock up front (``transaction_mode=IMMEDIATE``), so claims are serialized instead.
    A claim also re-checks the mailing (running, before its end): it is the last word
    before the requests start, so a cancel or delete that committed first always wins.
    """
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)
    with transaction.atomic():
        ids = list(
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status=MessageStatus.PENDING,
                next_attempt_at__lte=now,
                mailing__status=MailingStatus.RUNNING,
                mailing__end_at__gt=now,
            )
            .order_by("next_attempt_at")
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        Message.objects.filter(id__in=ids, status=MessageStatus.PENDING).update(
            status=MessageStatus.SENDING, lease_token=token, lease_expires_at=lease_until
        )
        rows = Message.objects.filter(id__in=ids, lease_token=token).values_list(
            "id",
            "mailing_id",
            "client_id",
            "phone",
            "mailing__text",
            "attempts",
            "mailing__end_at",
            "mailing__send_window_start",
            "mailing__send_window_end",
            "client__timezone",
        )
        return [ClaimedMessage(*row[:9], timezone=row[9] or "UTC") for row in rows]


_OUTCOME_STATUS = {
    Kind.RETRY: MessageStatus.PENDING,
    Kind.DEFERRED: MessageStatus.PENDING,
    Kind.RELEASED: MessageStatus.PENDING,
    Kind.FAILED: MessageStatus.FAILED,
    Kind.EXPIRED: MessageStatus.EXPIRED,
}


def outcomes_write(*, token: uuid.UUID, outcomes: Iterable[Outcome]) -> None:
    """Write a batch of outcomes: one UPDATE for the delivered, one bulk UPDATE for the rest.

    Only rows still ``sending`` under this claim's token are touched. A message going back
    to pending whose mailing was cancelled meanwhile, or whose client was deleted, becomes
    ``cancelled`` instead.
    """
    now = timezone.now()
    mine = Message.objects.filter(status=MessageStatus.SENDING, lease_token=token)
    sent: list[int] = []
    others: list[Message] = []
    back_to_pending: list[int] = []
    for outcome in outcomes:
        decision = outcome.decision
        if decision.kind == Kind.SENT:
            sent.append(outcome.message.id)
            continue
        status = _OUTCOME_STATUS[decision.kind]
        if status == MessageStatus.PENDING:
            back_to_pending.append(outcome.message.id)
        others.append(
            Message(
                id=outcome.message.id,
                status=status,
                attempts=decision.attempts,
                next_attempt_at=decision.next_attempt_at,
                last_error=decision.error[:1000],
                lease_token=None,
                lease_expires_at=None,
            )
        )
    with transaction.atomic():
        if sent:
            mine.filter(id__in=sent).update(
                status=MessageStatus.SENT,
                sent_at=now,
                attempts=F("attempts") + 1,
                next_attempt_at=None,
                last_error="",
                lease_token=None,
                lease_expires_at=None,
            )
        if others:
            mine.bulk_update(
                others,
                [
                    "status",
                    "attempts",
                    "next_attempt_at",
                    "last_error",
                    "lease_token",
                    "lease_expires_at",
                ],
                batch_size=500,
            )
        if back_to_pending:
            Message.objects.filter(id__in=back_to_pending, status=MessageStatus.PENDING).filter(
                Q(mailing__status=MailingStatus.CANCELLED) | Q(client__isnull=True)
            ).update(status=MessageStatus.CANCELLED, next_attempt_at=None)


# --- dispatch slots -------------------------------------------------------------------------


def slot_acquire(*, owner: str) -> int | None:
    """Take a free dispatch slot (or one whose holder's lease lapsed)."""
    now = timezone.now()
    slots = settings.DISPATCH_SLOTS
    DispatchSlot.objects.bulk_create(
        [DispatchSlot(id=n) for n in range(1, slots + 1)], ignore_conflicts=True
    )
    lease_until = now + timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)
    for slot_id in range(1, slots + 1):
        won = (
            DispatchSlot.objects.filter(id=slot_id)
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
            .update(owner=owner, lease_expires_at=lease_until)
        )
        if won:
            return slot_id
    return None


def slot_renew(*, slot_id: int, owner: str) -> bool:
    lease_until = timezone.now() + timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)
    return bool(
        DispatchSlot.objects.filter(id=slot_id, owner=owner).update(lease_expires_at=lease_until)
    )


def slot_release(*, slot_id: int, owner: str) -> None:
    DispatchSlot.objects.filter(id=slot_id, owner=owner).update(owner="", lease_expires_at=None)


def slot_free() -> bool:
    now = timezone.now()
    taken = DispatchSlot.objects.filter(lease_expires_at__gt=now).count()
    return taken < settings.DISPATCH_SLOTS


# --- scheduler helpers ----------------------------------------------------------------------


def due_work_exists() -> bool:
    return Message.objects.filter(
        status=MessageStatus.PENDING,
        next_attempt_at__lte=timezone.now(),
        mailing__status=MailingStatus.RUNNING,
    ).exists()


def leases_recover() -> int:
    """Messages whose dispatcher died mid-request go back to pending, due now.

    The request may or may not have reached the gateway, so it counts as an attempt; the
    retry uses the same msgId, so the gateway can deduplicate.
    """
    now = timezone.now()
    recovered = Message.objects.filter(
        status=MessageStatus.SENDING, lease_expires_at__lte=now
    ).update(
        status=MessageStatus.PENDING,
        attempts=F("attempts") + 1,
        next_attempt_at=now,
        lease_token=None,
        lease_expires_at=None,
        last_error="lease lapsed: the dispatcher stopped mid-request",
    )
    if recovered:
        logger.warning("recovered messages from lapsed leases", extra={"messages": recovered})
    return recovered


def messages_schedule_window(*, mailing: Mailing) -> None:
    """Set each pending message's due time to its client's next window opening.

    One UPDATE per distinct client time zone; messages whose next opening is at or after
    the end time expire now.
    """
    start, end = mailing.send_window_start, mailing.send_window_end
    now = timezone.now()
    pending = Message.objects.filter(mailing=mailing, status=MessageStatus.PENDING)
    if start is None or end is None:
        pending.update(next_attempt_at=now)
        return
    zones = set(pending.values_list("client__timezone", flat=True).distinct())
    by_due: dict[datetime | None, list[str | None]] = defaultdict(list)
    for zone in zones:
        opening = next_opening(now, ZoneInfo(zone or "UTC"), start, end)
        by_due[opening if opening < mailing.end_at else None].append(zone)
    for due, zone_names in by_due.items():
        in_zones = Q(client__timezone__in=[z for z in zone_names if z is not None])
        if None in zone_names:
            in_zones |= Q(client__isnull=True)
        batch = pending.filter(in_zones)
        if due is None:
            batch.update(
                status=MessageStatus.EXPIRED,
                next_attempt_at=None,
                last_error="the send window does not open before the end time",
            )
        else:
            batch.update(next_attempt_at=due)
