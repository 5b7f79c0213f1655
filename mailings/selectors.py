"""Reads: what is due, mailing lists and statistics.

Each question the scheduler, the dispatcher, metrics and the dashboard ask has one answer
here, so they cannot disagree.

Message counts come from the counters (``mailings.counters``): a handful of rows per
mailing, never a scan of the messages, and never a query per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Min, QuerySet
from django.utils import timezone

from mailings import counters
from mailings.models import Mailing, MailingStatus, Message, MessageStatus


def messages_due(*, now: datetime | None = None) -> QuerySet[Message]:
    """Messages that may be sent now: pending, due, of a running mailing before its end."""
    now = now or timezone.now()
    return Message.objects.filter(
        status=MessageStatus.PENDING,
        next_attempt_at__lte=now,
        mailing__status=MailingStatus.RUNNING,
        mailing__end_at__gt=now,
    )


def due_work_exists(*, now: datetime | None = None) -> bool:
    return messages_due(now=now).exists()


def messages_due_count(*, now: datetime | None = None) -> int:
    """The backlog: how many messages are due now."""
    return messages_due(now=now).count()


def mailings_due_for_launch(*, now: datetime | None = None, limit: int = 100) -> list[int]:
    """Scheduled mailings whose start has come, oldest first."""
    now = now or timezone.now()
    return list(
        Mailing.objects.filter(status=MailingStatus.SCHEDULED, start_at__lte=now)
        .order_by("start_at")
        .values_list("id", flat=True)[:limit]
    )


def mailings_launching(*, before: datetime) -> list[int]:
    """Running mailings whose launch is incomplete and made no progress since ``before``."""
    return list(
        Mailing.objects.filter(
            status=MailingStatus.RUNNING,
            launched_at__isnull=True,
            launch_progress_at__lt=before,
        ).values_list("id", flat=True)
    )


def mailings_past_end(*, now: datetime | None = None) -> list[int]:
    """Running or paused mailings whose end time has come."""
    now = now or timezone.now()
    running = Mailing.objects.filter(
        status__in=[MailingStatus.RUNNING, MailingStatus.PAUSED], end_at__lte=now
    )
    return list(running.values_list("id", flat=True))


def messages_sent_since(*, since: datetime) -> int:
    return Message.objects.filter(status=MessageStatus.SENT, sent_at__gte=since).count()


def _counts(rows: Iterable[tuple[str, int]], statuses: Iterable[str]) -> dict[str, Any]:
    by_status = dict.fromkeys(statuses, 0)
    for status, n in rows:
        by_status[status] = by_status.get(status, 0) + n
    return {"total": sum(by_status.values()), "by_status": by_status}


def message_counts(*, mailing_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """``{mailing_id: {"total", "by_status"}}`` for the given mailings, zeros included."""
    ids = list(mailing_ids)
    grouped: dict[int, list[tuple[str, int]]] = {mailing_id: [] for mailing_id in ids}
    for mailing_id, status, n in counters.counts_by_mailing(ids):
        grouped[mailing_id].append((status, n))
    return {
        mailing_id: _counts(rows_, MessageStatus.values) for mailing_id, rows_ in grouped.items()
    }


def mailing_list() -> QuerySet[Mailing]:
    return Mailing.objects.order_by("-id")


def mailings_by_status() -> dict[str, int]:
    """How many mailings are in each status, zeros included."""
    rows = Mailing.objects.order_by().values_list("status").annotate(n=Count("id"))
    return _counts(rows, MailingStatus.values)["by_status"]


def paused_mailings(limit: int = 20) -> list[Mailing]:
    """Paused mailings with their reason, newest first (the dashboard)."""
    return list(Mailing.objects.filter(status=MailingStatus.PAUSED).order_by("-id")[:limit])


def statistics_overview() -> dict[str, Any]:
    """Mailings by status and messages by status, over everything."""
    mailings = Mailing.objects.order_by().values_list("status").annotate(n=Count("id"))
    return {
        "mailings": _counts(mailings, MailingStatus.values),
        "messages": _counts(counters.counts_overall(), MessageStatus.values),
    }


def mailing_messages(*, mailing: Mailing, status: str | None = None) -> QuerySet[Message]:
    """A mailing's messages in client order (the order of its indexes: a page is a short
    index range however many messages the mailing has)."""
    messages = Message.objects.filter(mailing=mailing).order_by("client_id", "id")
    if status:
        messages = messages.filter(status=status)
    return messages


def deliveries_over_time(*, mailing: Mailing, buckets: int = 30) -> list[tuple[Any, int]]:
    """``(bucket start, messages sent)`` over the mailing's sending period, in at most
    ``buckets`` equal steps (whole seconds, minutes, hours or days)."""
    from django.db.models.functions import Trunc

    sent = Message.objects.filter(mailing=mailing, status=MessageStatus.SENT)
    first_last = sent.aggregate(first=Min("sent_at"), last=Max("sent_at"))
    first, last = first_last["first"], first_last["last"]
    if first is None or last is None:
        return []
    span = (last - first).total_seconds()
    kind = (
        "second"
        if span <= buckets
        else "minute"
        if span <= 60 * buckets
        else ("hour" if span <= 3600 * buckets else "day")
    )
    rows = (
        sent.annotate(bucket=Trunc("sent_at", kind))
        .order_by()
        .values_list("bucket")
        .annotate(n=Count("id"))
        .order_by("bucket")
    )
    return [(bucket, n) for bucket, n in rows]
