"""Through the emulator over a real socket: a number listed while its mailing runs gets
nothing more; test sends go now, with msgIds no message has, and retry then give up."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from clients.tests.factories import ClientFactory
from delivery.dispatcher import dispatch_run
from delivery.testsend import send_due_test_sends
from emulator.thread import EmulatorThread
from mailings import messages
from mailings import services as mailing_services
from mailings.models import TEST_SEND_MSG_ID_BASE, Message, MessageStatus, TestSend
from mailings.tests.factories import MailingFactory
from mailings.testsends import create_test_sends
from stoplist.models import StopListEntry
from stoplist.services import stoplist_add

pytestmark = pytest.mark.django_db(transaction=True)


def running_mailing(n: int, **fields: Any) -> Any:
    for i in range(n):
        ClientFactory.create(phone=f"7916{i:07d}")
    now = timezone.now()
    mailing = MailingFactory.create(
        text="Hello", start_at=now - timedelta(seconds=1), end_at=now + timedelta(hours=1), **fields
    )
    assert mailing_services.mailing_launch(mailing_id=mailing.pk)
    return mailing


def test_a_number_listed_while_its_mailing_runs_is_suppressed_before_its_request(
    emulator: EmulatorThread,
) -> None:
    mailing = running_mailing(20)
    # Half of it goes out; then two numbers still pending are listed.
    token = uuid.uuid4()
    first = messages.messages_claim(limit=10, token=token)
    messages.messages_record_outcomes(
        token=token,
        outcomes=[messages.MessageOutcome(m.id, MessageStatus.SENT, 1) for m in first],
    )
    pending = list(
        Message.objects.filter(mailing=mailing, status=MessageStatus.PENDING).values_list(
            "phone", flat=True
        )[:2]
    )
    for phone in pending:
        stoplist_add(phone=phone, reason="replied STOP")
    dispatch_run()
    phones_reached = {d.phone for d in emulator.stats.deliveries}
    assert not phones_reached & {int(p) for p in pending}
    listed = Message.objects.filter(mailing=mailing, phone__in=pending)
    assert set(listed.values_list("status", "last_error")) == {("suppressed", "stop list")}
    assert Message.objects.filter(mailing=mailing, status=MessageStatus.SENT).count() == 18


def test_a_test_send_of_a_mailing_starting_tomorrow_goes_now(emulator: EmulatorThread) -> None:
    now = timezone.now()
    mailing = MailingFactory.create(
        text="Preview text", start_at=now + timedelta(days=1), end_at=now + timedelta(days=2)
    )
    ClientFactory.create(phone="79160000000")
    StopListEntry.objects.create(phone="79160000009")
    created = create_test_sends(mailing=mailing, phones=["79160000001", "79160000009"])
    assert [t.status for t in created] == ["pending", "suppressed"]

    assert send_due_test_sends() == 1

    sent = TestSend.objects.get(phone="79160000001")
    assert (sent.status, sent.attempts) == ("sent", 1)
    assert sent.sent_at is not None
    [delivery] = emulator.stats.deliveries
    assert delivery.id == TEST_SEND_MSG_ID_BASE + sent.pk
    assert (delivery.phone, delivery.text) == (79160000001, "Preview text")
    assert not Message.objects.exists()  # counted in no statistic: no message at all


def test_a_test_send_retries_then_fails_after_its_window(
    emulator: EmulatorThread, settings: Any
) -> None:
    settings.TEST_SEND_RETRY_SECONDS = 0.5
    emulator.faults.error_rate = 1.0  # every answer a transient (5xx) error
    mailing = MailingFactory.create(text="x")
    [test_send] = create_test_sends(mailing=mailing, phones=["79160000001"])
    for _ in range(50):
        send_due_test_sends()
        test_send.refresh_from_db()
        if test_send.status != "pending":
            break
        TestSend.objects.filter(pk=test_send.pk).update(next_attempt_at=timezone.now())
    assert test_send.status == "failed"
    assert test_send.attempts >= 1
    assert test_send.last_error


def test_the_test_send_api(api: Any, emulator: EmulatorThread, on_commit: Any) -> None:
    mailing = MailingFactory.create(text="x")
    url = f"/api/mailings/{mailing.pk}/test_send/"
    with on_commit(execute=False):
        answer = api.post(url, {"phones": ["+7 916 000-00-01", "79160000001"]}, format="json")
    assert answer.status_code == 202, answer.content
    [result] = answer.json()["results"]  # one per number
    assert result["status"] == "pending"
    send_due_test_sends()
    read = api.get(f"/api/test_sends/{result['id']}/").json()
    assert read["status"] == "sent"
    assert read["mailing_id"] == mailing.pk
    assert api.post(url, {"phones": []}, format="json").status_code == 400
    six = [f"7916000000{i}" for i in range(6)]
    assert api.post(url, {"phones": six}, format="json").status_code == 400
    assert (
        api.post(
            "/api/mailings/999999/test_send/", {"phones": ["79160000001"]}, format="json"
        ).status_code
        == 404
    )
    assert api.get("/api/test_sends/999999/").status_code == 404
