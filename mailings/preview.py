"""What a mailing would do, before it exists: recipients, suppressions, parts, cost, time
(``POST /api/mailings/preview/`` and the admin's mailing form; SPEC 8.4).

Counted with the launch's own rules (``messages_create``): a matching client on the stop
list is suppressed, then, for an advertising mailing, one without consent; every other one
is a recipient. So the preview's figures are what a launch at the same moment creates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone

from clients.models import Client
from mailings import segments
from mailings.models import Kind, effective_window
from mailings.window import is_open_at
from stoplist.models import StopListEntry


@dataclass(frozen=True, slots=True)
class Preview:
    recipients: int
    stop_list: int
    no_consent: int
    by_operator_code: dict[str, int]
    by_timezone: dict[str, int]
    in_window_now: int
    segments: segments.Segments
    parts: int
    cost: Decimal | None
    estimated_seconds: float | None

    def as_dict(self) -> dict[str, Any]:
        cost = None
        if self.cost is not None:
            cost = {"amount": str(self.cost), "currency": settings.CURRENCY}
        return {
            "recipients": self.recipients,
            "suppressed": {"stop_list": self.stop_list, "no_consent": self.no_consent},
            "by_operator_code": self.by_operator_code,
            "by_timezone": self.by_timezone,
            "in_window_now": self.in_window_now,
            "segments": {
                "encoding": self.segments.encoding,
                "characters": self.segments.characters,
                "segments": self.segments.segments,
            },
            "parts": self.parts,
            "cost": cost,
            "estimated_seconds": self.estimated_seconds,
        }


def matching_clients(*, filter_operator_code: str = "", filter_tag: str = "") -> QuerySet[Client]:
    clients = Client.objects.all()
    if filter_operator_code:
        clients = clients.filter(operator_code=filter_operator_code)
    if filter_tag:
        clients = clients.filter(tag=filter_tag)
    return clients


def mailing_preview(
    *,
    text: str,
    filter_operator_code: str = "",
    filter_tag: str = "",
    kind: str = Kind.SERVICE,
    send_window_start: time | None = None,
    send_window_end: time | None = None,
    now: datetime | None = None,
) -> Preview:
    now = now or timezone.now()
    listed = Exists(StopListEntry.objects.filter(phone=OuterRef("phone")))
    clients = matching_clients(
        filter_operator_code=filter_operator_code, filter_tag=filter_tag
    ).annotate(listed=listed)
    stop_list = clients.filter(listed=True).count()
    eligible = clients.filter(listed=False)
    no_consent = 0
    if kind == Kind.ADVERTISING:
        no_consent = eligible.filter(consent_at__isnull=True).count()
        eligible = eligible.filter(consent_at__isnull=False)
    by_zone = _grouped(eligible, "timezone")
    by_code = _grouped(eligible, "operator_code")
    recipients = sum(by_zone.values())
    window = effective_window(send_window_start, send_window_end, kind)
    in_window = recipients
    if window is not None:
        in_window = sum(
            count
            for zone, count in by_zone.items()
            if is_open_at(now, ZoneInfo(zone), window[0], window[1])
        )
    counted = segments.count(text)
    parts = recipients * counted.segments
    price = settings.PRICE_PER_SEGMENT
    rate = settings.GATEWAY_RATE
    return Preview(
        recipients=recipients,
        stop_list=stop_list,
        no_consent=no_consent,
        by_operator_code=by_code,
        by_timezone=by_zone,
        in_window_now=in_window,
        segments=counted,
        parts=parts,
        cost=price * parts if price is not None else None,
        estimated_seconds=round(parts / rate, 1) if rate > 0 else None,
    )


def _grouped(clients: QuerySet[Client], field: str) -> dict[str, int]:
    rows = clients.order_by().values_list(field).annotate(n=Count("id")).order_by(field)
    return dict(rows)


def preview_of(fields: dict[str, Any]) -> Preview:
    """The preview of a create's validated fields (the API's body, the admin's form)."""
    return mailing_preview(
        text=fields["text"],
        filter_operator_code=fields.get("filter_operator_code", ""),
        filter_tag=fields.get("filter_tag", ""),
        kind=fields.get("kind", Kind.SERVICE),
        send_window_start=fields.get("send_window_start"),
        send_window_end=fields.get("send_window_end"),
    )
