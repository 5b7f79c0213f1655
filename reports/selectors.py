"""The numbers of the daily report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q

from mailings.models import Mailing, MessageStatus
from mailings.selectors import message_counts


def report_data(*, start: datetime, end: datetime) -> dict[str, Any]:
    """Every mailing that was running at some moment of ``[start, end)``, with its message
    counts by status and delivery rate (sent / all messages), and the totals."""
    mailings = list(
        Mailing.objects.filter(started_at__isnull=False, started_at__lt=end)
        .filter(Q(finished_at__isnull=True) | Q(finished_at__gte=start))
        .order_by("id")
    )
    counts = message_counts(mailing_ids=[m.pk for m in mailings])
    rows = []
    totals = dict.fromkeys(MessageStatus.values, 0)
    for mailing in mailings:
        by_status = counts[mailing.pk]["by_status"]
        total = counts[mailing.pk]["total"]
        for status, n in by_status.items():
            totals[status] += n
        rows.append(
            {
                "id": mailing.pk,
                "text": mailing.text if len(mailing.text) <= 60 else mailing.text[:57] + "...",
                "status": mailing.status,
                "paused_reason": mailing.paused_reason,
                "total": total,
                "by_status": by_status,
                "delivery_rate": by_status[MessageStatus.SENT] / total if total else 0.0,
            }
        )
    grand_total = sum(totals.values())
    return {
        "start": start,
        "end": end,
        "mailings": rows,
        "totals": {
            "total": grand_total,
            "by_status": totals,
            "delivery_rate": totals[MessageStatus.SENT] / grand_total if grand_total else 0.0,
        },
        "statuses": MessageStatus.values,
    }
