"""The operators' admin: the same validation and services as the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client as Browser
from django.utils import timezone

from clients.tests.factories import ClientFactory
from mailings.models import Mailing, MailingStatus, MessageStatus
from mailings.tests.factories import MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db


def form(**overrides: Any) -> dict[str, Any]:
    start = timezone.now() + timedelta(hours=1)
    data = {
        "text": "From the admin",
        "start_at_0": start.strftime("%Y-%m-%d"),
        "start_at_1": start.strftime("%H:%M:%S"),
        "end_at_0": (start + timedelta(days=1)).strftime("%Y-%m-%d"),
        "end_at_1": start.strftime("%H:%M:%S"),
        "filter_operator_code": "900",
        "filter_tag": "",
        "send_window_start": "09:00",
        "send_window_end": "21:00",
        "kind": "service",
        "priority": "normal",
        "max_rate": "",
    }
    data.update(overrides)
    return data


def test_a_mailing_created_in_the_admin_goes_through_the_service(admin_client: Browser) -> None:
    response = admin_client.post("/admin/mailings/mailing/add/", form())

    assert response.status_code == 302, response.content
    mailing = Mailing.objects.get()
    assert (mailing.text, mailing.filter_operator_code, mailing.status) == (
        "From the admin",
        "900",
        MailingStatus.SCHEDULED,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"filter_operator_code": "9"}, "3 digits"),
        ({"send_window_end": "09:00"}, "must differ"),
        ({"send_window_end": ""}, "both ends"),
        ({"end_at_0": "2020-01-01"}, "end_at must be after start_at"),
    ],
)
def test_the_admin_form_rejects_what_the_api_rejects(
    admin_client: Browser, overrides: dict[str, str], message: str
) -> None:
    response = admin_client.post("/admin/mailings/mailing/add/", form(**overrides))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert Mailing.objects.count() == 0


API_BODY = {
    "text": "From the API",
    "filter": {"operator_code": "900"},
    "send_window": {"start": "09:00", "end": "21:00"},
}


@pytest.mark.parametrize(
    ("form_overrides", "api_overrides"),
    [
        ({"filter_operator_code": "9"}, {"filter": {"operator_code": "9"}}),
        ({"send_window_end": "09:00"}, {"send_window": {"start": "09:00", "end": "09:00"}}),
        ({"send_window_end": ""}, {"send_window": {"start": "09:00"}}),
        ({"end_at_0": "2020-01-01"}, {"end_at": "2020-01-01T00:00:00Z"}),
        ({"text": "   "}, {"text": "   "}),
    ],
)
def test_the_admin_form_and_the_api_give_the_same_message(
    admin_client: Browser, api: Any, form_overrides: dict[str, str], api_overrides: dict[str, Any]
) -> None:
    start = timezone.now() + timedelta(hours=1)
    body = {
        **API_BODY,
        "start_at": start.isoformat(),
        "end_at": (start + timedelta(days=1)).isoformat(),
        **api_overrides,
    }
    answer = api.post("/api/mailings/", body, format="json")
    assert answer.status_code == 400
    messages = _leaves(answer.json())

    page = admin_client.post("/admin/mailings/mailing/add/", form(**form_overrides))

    assert page.status_code == 200
    assert messages and all(m in page.content.decode() for m in messages), messages
    assert Mailing.objects.count() == 0


def _leaves(errors: Any) -> list[str]:
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in _leaves(value)]
    if isinstance(errors, list):
        return [m for value in errors for m in _leaves(value)]
    return [str(errors)]


def running_mailing_form(**overrides: str) -> tuple[Mailing, dict[str, Any]]:
    """A running mailing (start with microseconds, as the API stores it) and its change form
    as the admin shows it (whole seconds)."""
    now = timezone.now()
    mailing = MailingFactory.create(
        status=MailingStatus.RUNNING,
        start_at=now - timedelta(minutes=1),
        end_at=now + timedelta(days=1),
        filter_operator_code="900",
    )
    data = form(filter_operator_code="900")
    data.update(
        start_at_0=mailing.start_at.strftime("%Y-%m-%d"),
        start_at_1=mailing.start_at.strftime("%H:%M:%S"),
        end_at_0=mailing.end_at.strftime("%Y-%m-%d"),
        end_at_1=mailing.end_at.strftime("%H:%M:%S"),
        text=mailing.text,
        send_window_start="",
        send_window_end="",
    )
    data.update(overrides)
    return mailing, data


def test_the_admin_changes_a_running_mailings_text_as_the_api_would(
    admin_client: Browser,
) -> None:
    mailing, data = running_mailing_form(text="Corrected text")

    page = admin_client.post(f"/admin/mailings/mailing/{mailing.pk}/change/", data)

    assert page.status_code == 302, page.content
    changed = Mailing.objects.get(pk=mailing.pk)
    assert (changed.text, changed.start_at) == ("Corrected text", mailing.start_at)


def test_the_admin_refuses_a_change_the_running_mailing_does_not_allow(
    admin_client: Browser,
) -> None:
    mailing, data = running_mailing_form(filter_operator_code="916")

    page = admin_client.post(f"/admin/mailings/mailing/{mailing.pk}/change/", data)

    assert page.status_code == 200
    assert "only end_at, text and send_window can change (not filter)" in page.content.decode()
    assert Mailing.objects.get(pk=mailing.pk).filter_operator_code == "900"


def test_actions_start_cancel_and_retry_call_the_services(admin_client: Browser) -> None:
    ClientFactory.create()
    scheduled = MailingFactory.create()
    now = timezone.now()
    finished = MailingFactory.create(
        status=MailingStatus.FINISHED,
        start_at=now - timedelta(hours=1),
        end_at=now + timedelta(hours=1),
    )
    failed = MessageFactory.create(mailing=finished, status=MessageStatus.FAILED)
    done = MailingFactory.create(status=MailingStatus.CANCELLED)

    admin_client.post(
        "/admin/mailings/mailing/",
        {"action": "start_now", "_selected_action": [scheduled.pk]},
    )
    admin_client.post(
        "/admin/mailings/mailing/",
        {"action": "retry_failed", "_selected_action": [finished.pk]},
    )
    response = admin_client.post(
        "/admin/mailings/mailing/",
        {"action": "start_now", "_selected_action": [done.pk]},
        follow=True,
    )
    admin_client.post(
        "/admin/mailings/mailing/",
        {"action": "cancel", "_selected_action": [scheduled.pk]},
    )

    scheduled.refresh_from_db()
    finished.refresh_from_db()
    failed.refresh_from_db()
    assert scheduled.status == MailingStatus.CANCELLED
    assert scheduled.start_at <= timezone.now()
    assert finished.status == MailingStatus.RUNNING
    assert failed.status == MessageStatus.PENDING
    assert "cannot start" in response.content.decode()


def test_the_list_shows_each_mailings_progress_and_the_page_its_counts(
    admin_client: Browser,
) -> None:
    mailing = MailingFactory.create(status=MailingStatus.RUNNING)
    for status in ("sent", "sent", "failed", "pending"):
        MessageFactory.create(mailing=mailing, status=status)

    listing = admin_client.get("/admin/mailings/mailing/").content.decode()
    page = admin_client.get(f"/admin/mailings/mailing/{mailing.pk}/change/").content.decode()
    messages = admin_client.get(
        f"/admin/mailings/message/?mailing__id__exact={mailing.pk}&status__exact=failed"
    )

    assert "2 sent · 1 failed · 0 expired · 1 pending of 4" in listing
    assert "sent: 2" in page and "failed: 1" in page
    assert messages.status_code == 200
    assert messages.content.decode().count('class="field-status">Failed') == 1


def test_a_mailings_page_charts_its_deliveries_over_time(admin_client: Browser) -> None:
    mailing = MailingFactory.create(status=MailingStatus.FINISHED)
    start = timezone.now() - timedelta(minutes=10)
    for minute, n in ((0, 3), (1, 1), (5, 2)):
        for _ in range(n):
            MessageFactory.create(
                mailing=mailing,
                status=MessageStatus.SENT,
                sent_at=start + timedelta(minutes=minute),
            )

    page = admin_client.get(f"/admin/mailings/mailing/{mailing.pk}/change/").content.decode()

    assert '<svg id="deliveries-chart"' in page
    assert page.count("<rect") == 3
    assert ": 3 sent</title>" in page and ": 2 sent</title>" in page
    assert "peak 3 a bucket" in page
    assert "<script" not in page.split('id="deliveries-chart"')[1].split("</svg>")[0]


def test_the_form_counts_segments_and_previews_before_saving(admin_client: Browser) -> None:
    page = admin_client.get("/admin/mailings/mailing/add/")
    assert b"mailings/segments" in page.content  # the counter's script, served by the project
    assert b"mailing-preview-url" in page.content
    ClientFactory.create(phone="79000000001", operator_code="900")
    ClientFactory.create(phone="79000000002", operator_code="900")
    ClientFactory.create(phone="79010000003", operator_code="901")
    from stoplist.models import StopListEntry

    StopListEntry.objects.create(phone="79000000002")
    answer = admin_client.post(
        "/admin/mailings/mailing/preview/",
        form(text="Ж" * 71, send_window_start="", send_window_end=""),
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["recipients"] == 1
    assert body["suppressed"] == {"stop_list": 1, "no_consent": 0}
    assert body["segments"]["segments"] == 2
    assert body["parts"] == 2
    assert Mailing.objects.count() == 0
    bad = admin_client.post("/admin/mailings/mailing/preview/", form(text=""))
    assert "errors" in bad.json()


def test_the_change_page_exports_the_messages_as_csv(admin_client: Browser) -> None:
    mailing = MailingFactory.create()
    message = MessageFactory.create(mailing=mailing, last_error="=1+1")
    page = admin_client.get(f"/admin/mailings/mailing/{mailing.pk}/change/")
    assert f"/admin/mailings/mailing/{mailing.pk}/export/".encode() in page.content
    answer = admin_client.get(f"/admin/mailings/mailing/{mailing.pk}/export/")
    text = b"".join(answer.streaming_content).decode()  # type: ignore[attr-defined]
    assert text.splitlines()[0].startswith("message_id,client_id,phone")
    assert f"{message.pk}," in text
    assert "'=1+1" in text


def test_the_stop_list_admin_lists_and_imports(admin_client: Browser) -> None:
    from stoplist.models import StopListEntry

    added = admin_client.post(
        "/admin/stoplist/stoplistentry/add/", {"phone": "+7 900 000-00-01", "reason": "STOP"}
    )
    assert added.status_code == 302, added.content
    entry = StopListEntry.objects.get()
    assert (entry.phone, entry.source, entry.created_by) == ("79000000001", "admin", "admin")
    import io

    upload = io.BytesIO(b"phone,reason\n79000000002,x\nbad,y\n")
    upload.name = "stop.csv"
    page = admin_client.post("/admin/stoplist/stoplistentry/import/", {"file": upload})
    assert b"1 created, 0 updated, 1 rejected" in page.content
    assert StopListEntry.objects.filter(phone="79000000002", source="import").exists()
