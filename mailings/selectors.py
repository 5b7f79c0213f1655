"""Reads: mailing lists and statistics.

Message counts come from the counters (``mailings.counters``): a handful of rows per
mailing, never a scan of the messages, and never a query per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Max, Min, QuerySet

from mailings import counters
from mailings.models import Mailing, MailingStatus, Message, MessageStatus


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
