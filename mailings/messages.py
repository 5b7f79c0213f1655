"""Every status change of a ``Message``, and nothing else: the one owner of that state.

    pending ──claim──▶ sending ──outcome──▶ sent | failed | expired | pending (retry, window)
    pending ──▶ cancelled (mailing cancelled, client deleted) | expired (end time, no window)
    sending ──lease lapsed──▶ pending        failed ──retry──▶ pending

Other modules call these services (the mailing services, the dispatcher, the scheduler);
none writes a message's status itself. Every write is a conditional update on the current
status (and, for a claimed message, the claim's token), so two dispatchers, the scheduler
and the API can never both move one message.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from mailings import selectors
from mailings.models import Mailing, MailingStatus, Message, MessageStatus
from mailings.window import next_opening

if TYPE_CHECKING:
    from django.db.models.deletion import Collector

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """What a dispatcher needs to send one claimed message, read with the claim."""

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
class MessageOutcome:
    """A claimed message's next state, decided by the dispatcher's retry policy."""

    message_id: int
    status: MessageStatus  # SENT, PENDING (retry, window, released), FAILED or EXPIRED
    attempts: int
    next_attempt_at: datetime | None = None
    error: str = ""


# --- launch -----------------------------------------------------------------------------------


def messages_create(*, mailing: Mailing, now: datetime) -> int:
    """Snapshot the mailing's matching clients into pending messages: one INSERT … SELECT.

    ``ON CONFLICT DO NOTHING`` on (mailing, client) makes it idempotent.
    """
    message_table = Message._meta.db_table
    client_table = Message._meta.get_field("client").related_model._meta.db_table  # type: ignore[union-attr]
    conditions = ["1 = 1"]  # SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT
    stamp = connection.ops.adapt_datetimefield_value(now)
    params: list[Any] = [mailing.pk, stamp, stamp]
    if mailing.filter_operator_code:
        conditions.append("c.operator_code = %s")
        params.append(mailing.filter_operator_code)
    if mailing.filter_tag:
        conditions.append("c.tag = %s")
        params.append(mailing.filter_tag)
    sql = (
        f"INSERT INTO {message_table} "  # noqa: S608 -- table names come from models
        "(mailing_id, client_id, phone, status, attempts, next_attempt_at, created_at, last_error) "
        f"SELECT %s, c.id, c.phone, 'pending', 0, %s, %s, '' FROM {client_table} c "
        f"WHERE {' AND '.join(conditions)} "
        "ON CONFLICT (mailing_id, client_id) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def messages_schedule_window(*, mailing: Mailing, now: datetime) -> None:
    """Set each pending message's due time to its client's next window opening.

    One UPDATE per distinct client time zone; messages whose next opening is at or after
    the end time expire now. Without a window every pending message is due now.
    """
    start, end = mailing.send_window_start, mailing.send_window_end
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


# --- operators' actions -----------------------------------------------------------------------


def messages_cancel(*, mailing_id: int, reason: str) -> int:
    """The mailing's pending messages become ``cancelled``; those in flight keep their claim
    and record their real outcome (``messages_record_outcomes`` cancels a retry of them)."""
    return Message.objects.filter(mailing_id=mailing_id, status=MessageStatus.PENDING).update(
        status=MessageStatus.CANCELLED, next_attempt_at=None, last_error=reason
    )


def messages_retry_failed(*, mailing_id: int, now: datetime) -> int:
    """Failed messages go back to pending, due now, with a fresh attempt budget."""
    return Message.objects.filter(mailing_id=mailing_id, status=MessageStatus.FAILED).update(
        status=MessageStatus.PENDING, attempts=0, next_attempt_at=now
    )


def messages_detach_deleted_clients(*, collector: Collector, messages: QuerySet[Message]) -> None:
    """A client is being deleted (API, admin, anywhere): in the delete's own transaction its
    pending messages become ``cancelled``, and every one of its messages stays (statistics do
    not change) with ``client_id`` null. Those in flight record their real outcome.

    Called by Django's deletion collector (``Message.client``'s ``on_delete``); the updates
    run in this order, each before the client rows go.
    """
    pending = messages.filter(status=MessageStatus.PENDING)
    # The filter on status is read again by each UPDATE: the status must change last.
    updates: list[tuple[str, object, QuerySet[Message]]] = [
        ("next_attempt_at", None, pending),
        ("last_error", "client deleted", pending),
        ("status", MessageStatus.CANCELLED.value, pending),
        ("client", None, messages),
    ]
    for name, value, rows in updates:
        # The collector takes a lazy queryset here (as Django's own SET_NULL gives it).
        collector.add_field_update(Message._meta.get_field(name), value, rows)  # type: ignore[arg-type]


# --- end of a mailing -------------------------------------------------------------------------


def messages_expire(*, mailing_id: int, now: datetime) -> int:
    """At the end time: pending messages, and those whose claim lapsed, become ``expired``.

    A message still ``sending`` under a live lease is left to record its real outcome.
    """
    expired = Message.objects.filter(mailing_id=mailing_id, status=MessageStatus.PENDING).update(
        status=MessageStatus.EXPIRED, next_attempt_at=None
    )
    return expired + (
        Message.objects.filter(mailing_id=mailing_id, status=MessageStatus.SENDING)
        .exclude(lease_expires_at__gt=now)
        .update(status=MessageStatus.EXPIRED, next_attempt_at=None, lease_expires_at=None)
    )


# --- delivery ---------------------------------------------------------------------------------


def messages_claim(
    *, limit: int, token: uuid.UUID, now: datetime | None = None
) -> list[ClaimedMessage]:
    """Take up to ``limit`` due messages: ``pending → sending`` under a lease.

    PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED`` lets concurrent dispatchers take
    disjoint batches without waiting. SQLite: the transaction takes the database's write
    lock up front (``transaction_mode=IMMEDIATE``), so claims are serialized instead.
    What is due is ``selectors.messages_due`` (mailing running, before its end): the claim is
    the last database check before the requests start, so a cancel or delete that committed
    first always wins.
    """
    now = now or timezone.now()
    lease_until = now + timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)
    with transaction.atomic():
        ids = list(
            selectors.messages_due(now=now)
            .select_for_update(skip_locked=True, of=("self",))
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


def messages_record_outcomes(
    *, token: uuid.UUID, outcomes: Iterable[MessageOutcome], now: datetime | None = None
) -> None:
    """Write a batch of outcomes: one UPDATE for the delivered, one bulk UPDATE for the rest.

    Only rows still ``sending`` under this claim's token are touched. A message going back
    to pending whose mailing was cancelled meanwhile, or whose client was deleted, becomes
    ``cancelled`` instead.
    """
    now = now or timezone.now()
    mine = Message.objects.filter(status=MessageStatus.SENDING, lease_token=token)
    sent: list[int] = []
    others: list[Message] = []
    back_to_pending: list[int] = []
    for outcome in outcomes:
        if outcome.status == MessageStatus.SENT:
            sent.append(outcome.message_id)
            continue
        if outcome.status == MessageStatus.PENDING:
            back_to_pending.append(outcome.message_id)
        others.append(
            Message(
                id=outcome.message_id,
                status=outcome.status,
                attempts=outcome.attempts,
                next_attempt_at=outcome.next_attempt_at,
                last_error=outcome.error[:1000],
                lease_token=None,
                lease_expires_at=None,
            )
        )
    released = {"lease_token": None, "lease_expires_at": None}
    with transaction.atomic():
        if sent:
            mine.filter(id__in=sent).update(
                status=MessageStatus.SENT,
                sent_at=now,
                attempts=F("attempts") + 1,
                next_attempt_at=None,
                last_error="",
                **released,
            )
        if others:
            fields = ["status", "attempts", "next_attempt_at", "last_error", *released]
            mine.bulk_update(others, fields, batch_size=500)
        if back_to_pending:
            Message.objects.filter(id__in=back_to_pending, status=MessageStatus.PENDING).filter(
                Q(mailing__status=MailingStatus.CANCELLED) | Q(client__isnull=True)
            ).update(status=MessageStatus.CANCELLED, next_attempt_at=None)


def messages_recover_lapsed(*, now: datetime | None = None) -> int:
    """Messages whose dispatcher died mid-request go back to pending, due now.

    The request may or may not have reached the gateway, so it counts as an attempt; the
    retry uses the same msgId, so the gateway can deduplicate.
    """
    now = now or timezone.now()
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
