"""The stop list, consent, preview and test send on real processes, through the emulator
(SPEC 8.3, 8.4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clients.models import Client
from e2e.stack import Stack, wait_until
from e2e.test_delivery import api_for, counts, create_mailing, make_clients, wait_finished
from mailings.models import TEST_SEND_MSG_ID_BASE, Message, MessageStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def phones_reached(live: Stack, text: str) -> set[str]:
    return {str(d["phone"]) for d in live.deliveries(text)}


def test_a_stop_listed_number_gets_nothing_even_when_listed_mid_run(live: Stack) -> None:
    clients = make_clients(2000)
    api = api_for(live)
    early = clients[0].phone
    api.call("POST", "/api/stoplist/", {"phone": early, "reason": "listed before"})
    # A slow gateway, so that the mailing is still running when the second number is listed.
    live.faults(latency_ms=300, latency_jitter=0.2)
    text = "Stop list on real processes"
    created = create_mailing(api, text)
    wait_until(lambda: len(live.deliveries(text)) >= 50, timeout=30)
    late = (
        Message.objects.filter(mailing_id=created["id"], status=MessageStatus.PENDING)
        .order_by("-id")
        .values_list("phone", flat=True)
        .first()
    )
    assert late is not None
    answer = api.call("POST", "/api/stoplist/", {"phone": late, "reason": "replied STOP"})
    assert answer["phone"] == late
    live.faults(latency_ms=0)
    wait_finished(created["id"], timeout=120)

    reached = phones_reached(live, text)
    assert early not in reached and late not in reached
    assert len(reached) == 1998
    assert counts(created["id"]) == {"sent": 1998, "suppressed": 2}
    stats = api.call("GET", f"/api/mailings/{created['id']}/message_statistics/?status=suppressed")
    assert sorted(m["phone"] for m in stats["results"]) == sorted([early, late])
    assert {m["last_error"] for m in stats["results"]} == {"stop list"}


def test_consent_splits_an_advertising_mailing_and_the_preview_matches_the_launch(
    live: Stack,
) -> None:
    consented = make_clients(300, prefix="7901", consent_at=datetime(2026, 1, 1, tzinfo=UTC))
    make_clients(200, prefix="7901")  # no consent
    api = api_for(live)
    api.call("POST", "/api/stoplist/", {"phone": consented[0].phone})
    text = "Advertising on real processes"
    body = {
        "text": text,
        "filter": {"operator_code": "901"},
        "kind": "advertising",
        "send_window": {"start": "00:00", "end": "23:59"},
    }
    preview = api.call("POST", "/api/mailings/preview/", body)
    assert preview["recipients"] == 299
    assert preview["suppressed"] == {"stop_list": 1, "no_consent": 200}
    assert preview["parts"] == 299

    created = create_mailing(
        api, text, filter=body["filter"], kind="advertising", send_window=body["send_window"]
    )
    wait_finished(created["id"], timeout=120)

    assert counts(created["id"]) == {"sent": preview["recipients"], "suppressed": 201}
    reached = phones_reached(live, text)
    assert reached == {c.phone for c in consented[1:]}
    no_consent = Message.objects.filter(mailing_id=created["id"], last_error="no consent")
    assert no_consent.count() == preview["suppressed"]["no_consent"]
    assert not Client.objects.filter(phone__in=reached, consent_at__isnull=True).exists()


def test_a_test_send_of_tomorrows_mailing_reaches_the_gateway_now(live: Stack) -> None:
    make_clients(5, prefix="7902")
    api = api_for(live)
    text = "Tomorrow's text, tested today"
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    created = create_mailing(api, text, start=tomorrow)
    answer = api.call(
        "POST", f"/api/mailings/{created['id']}/test_send/", {"phones": ["+7 999 000-00-01"]}
    )
    [result] = answer["results"]

    wait_until(
        lambda: api.call("GET", f"/api/test_sends/{result['id']}/")["status"] == "sent",
        timeout=15,
        what="the test send to be sent",
    )
    [delivery] = live.deliveries(text)
    assert delivery["id"] == TEST_SEND_MSG_ID_BASE + result["id"]
    assert delivery["phone"] == 79990000001
    mailing = api.call("GET", f"/api/mailings/{created['id']}/")
    assert mailing["status"] == "scheduled"
    assert mailing["messages"]["total"] == 0  # in no statistic
    overall = api.call("GET", "/api/mailings/statistics/")
    assert overall["messages"]["total"] == 0
