"""The stop list and consent at launch, the advertising window, and the preview's figures
against what the launch then creates."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from clients.tests.factories import ClientFactory
from mailings import services
from mailings.models import Kind, Mailing, Message, MessageStatus
from mailings.preview import mailing_preview
from mailings.tests.factories import MailingFactory
from stoplist.models import StopListEntry

pytestmark = pytest.mark.django_db

CONSENT = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def directory() -> dict[str, Any]:
    """Ten clients of operator 900: 0-1 listed, 0-4 consenting (so 2-4 consent and are not
    listed), zones alternating Moscow / Vladivostok; plus one of operator 901."""
    clients = []
    for i in range(10):
        clients.append(
            ClientFactory.create(
                phone=f"7900000000{i}",
                operator_code="900",
                timezone="Europe/Moscow" if i % 2 == 0 else "Asia/Vladivostok",
                consent_at=CONSENT if i < 5 else None,
                consent_source="web form" if i < 5 else "",
            )
        )
    other = ClientFactory.create(phone="79010000000", operator_code="901")
    for i in (0, 1):
        StopListEntry.objects.create(phone=f"7900000000{i}", reason="asked to stop")
    return {"clients": clients, "other": other}


def launch(**fields: Any) -> Mailing:
    now = timezone.now()
    mailing = MailingFactory.create(
        start_at=now - timedelta(seconds=1), end_at=now + timedelta(days=2), **fields
    )
    assert services.mailing_launch(mailing_id=mailing.pk)
    return mailing


def by_status(mailing: Mailing) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for phone, status in Message.objects.filter(mailing=mailing).values_list("phone", "status"):
        result.setdefault(status, []).append(phone)
    return {k: sorted(v) for k, v in result.items()}


def test_a_listed_number_gets_a_suppressed_message_saying_why(directory: Any) -> None:
    mailing = launch(filter_operator_code="900")
    statuses = by_status(mailing)
    assert statuses["suppressed"] == ["79000000000", "79000000001"]
    assert len(statuses["pending"]) == 8
    listed = Message.objects.get(mailing=mailing, phone="79000000000")
    assert listed.last_error == "stop list"
    assert listed.next_attempt_at is None


def test_an_advertising_mailing_reaches_consenting_clients_only(directory: Any) -> None:
    mailing = launch(filter_operator_code="900", kind=Kind.ADVERTISING)
    statuses = by_status(mailing)
    assert statuses["pending"] == ["79000000002", "79000000003", "79000000004"]
    assert len(statuses["suppressed"]) == 7
    reasons = dict(Message.objects.filter(mailing=mailing).values_list("phone", "last_error"))
    assert reasons["79000000000"] == "stop list"  # listed and consenting: the list wins
    assert reasons["79000000005"] == "no consent"


def test_a_service_mailing_ignores_consent(directory: Any) -> None:
    mailing = launch(filter_operator_code="900", kind=Kind.SERVICE)
    assert len(by_status(mailing)["pending"]) == 8


def test_advertising_without_a_window_goes_out_in_advertising_window(
    directory: Any, settings: Any
) -> None:
    # A window closed now in both zones: Moscow's hour +2 to +3 (Vladivostok is 7 hours on).
    moscow = timezone.now().astimezone(ZoneInfo("Europe/Moscow"))
    start = time((moscow.hour + 2) % 24, 0)
    end = time((moscow.hour + 3) % 24, 0)
    settings.ADVERTISING_WINDOW = (start, end)
    mailing = launch(filter_operator_code="900", kind=Kind.ADVERTISING)
    pending = Message.objects.filter(mailing=mailing, status=MessageStatus.PENDING)
    assert pending.count() == 3
    for message in pending.select_related("client"):
        assert message.next_attempt_at is not None and message.client is not None
        local = message.next_attempt_at.astimezone(ZoneInfo(message.client.timezone))
        assert message.next_attempt_at > timezone.now() + timedelta(minutes=30)
        assert local.time() == start, (message.phone, local)


def test_advertising_window_empty_means_any_time(directory: Any, settings: Any) -> None:
    settings.ADVERTISING_WINDOW = None
    mailing = launch(filter_operator_code="900", kind=Kind.ADVERTISING)
    due = Message.objects.filter(mailing=mailing, status=MessageStatus.PENDING)
    assert all(m.next_attempt_at is not None and m.next_attempt_at <= timezone.now() for m in due)


@pytest.mark.parametrize("kind", [Kind.SERVICE, Kind.ADVERTISING])
def test_the_preview_matches_what_the_launch_creates(directory: Any, kind: str) -> None:
    text = "Скидка 10% для вас"  # Cyrillic: UCS-2, one segment
    preview = mailing_preview(text=text, filter_operator_code="900", kind=kind)
    mailing = launch(text=text, filter_operator_code="900", kind=kind)
    messages = Message.objects.filter(mailing=mailing)
    pending = messages.filter(status=MessageStatus.PENDING)
    assert preview.recipients == pending.count()
    assert preview.stop_list == messages.filter(last_error="stop list").count()
    assert preview.no_consent == messages.filter(last_error="no consent").count()
    zones: dict[str, int] = {}
    for zone in pending.values_list("client__timezone", flat=True):
        zones[zone] = zones.get(zone, 0) + 1
    assert preview.by_timezone == zones
    assert preview.by_operator_code == {"900": pending.count()}
    assert preview.parts == pending.count() * 1


def test_preview_api_answers_cost_and_duration(
    api: APIClient, directory: Any, settings: Any
) -> None:
    settings.PRICE_PER_SEGMENT = Decimal("2.50")
    settings.CURRENCY = "RUB"
    settings.GATEWAY_RATE = 4.0
    text = "Ж" * 71  # two UCS-2 segments
    answer = api.post(
        "/api/mailings/preview/",
        {"text": text, "filter": {"operator_code": "900"}, "kind": "advertising"},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["recipients"] == 3
    assert body["suppressed"] == {"stop_list": 2, "no_consent": 5}
    assert body["segments"] == {"encoding": "UCS-2", "characters": 71, "segments": 2}
    assert body["parts"] == 6
    assert body["cost"] == {"amount": "15.00", "currency": "RUB"}
    assert body["estimated_seconds"] == 1.5
    assert sum(body["by_timezone"].values()) == 3
    assert body["by_operator_code"] == {"900": 3}
    assert 0 <= body["in_window_now"] <= 3
    assert Mailing.objects.count() == 0  # saved nothing


def test_preview_without_price_or_rate(api: APIClient, directory: Any, settings: Any) -> None:
    settings.PRICE_PER_SEGMENT = None
    settings.GATEWAY_RATE = 0.0
    body = api.post("/api/mailings/preview/", {"text": "Hi"}, format="json").json()
    assert body["recipients"] == 9  # eleven clients, two listed
    assert body["in_window_now"] == 9  # no window: everyone now
    assert (body["cost"], body["estimated_seconds"]) == (None, None)


def test_preview_refuses_what_a_create_refuses(api: APIClient) -> None:
    assert api.post("/api/mailings/preview/", {}, format="json").status_code == 400
    assert (
        api.post("/api/mailings/preview/", {"text": "x", "kind": "spam"}, format="json").status_code
        == 400
    )


def test_a_text_over_max_segments_is_a_400_on_text(api: APIClient, settings: Any) -> None:
    settings.MAX_SEGMENTS = 2
    now = timezone.now()
    body = {
        "start_at": (now + timedelta(hours=1)).isoformat(),
        "end_at": (now + timedelta(hours=2)).isoformat(),
    }
    ok = api.post("/api/mailings/", {**body, "text": "a" * 306}, format="json")
    assert ok.status_code == 201, ok.content
    assert ok.json()["segments"] == {"encoding": "GSM-7", "characters": 306, "segments": 2}
    refused = api.post("/api/mailings/", {**body, "text": "a" * 307}, format="json")
    assert refused.status_code == 400
    assert "text" in refused.json()
    huge = api.post("/api/mailings/", {**body, "text": "Ж" * 1_000_000}, format="json")
    assert huge.status_code == 400
    assert len(huge.content) < 1000  # the value is not echoed back


def test_statistics_list_suppressed(api: APIClient, directory: Any) -> None:
    mailing = launch(filter_operator_code="900")
    body = api.get(f"/api/mailings/{mailing.pk}/message_statistics/").json()
    assert body["by_status"]["suppressed"] == 2
    overall = api.get("/api/mailings/statistics/").json()
    assert overall["messages"]["by_status"]["suppressed"] == 2
