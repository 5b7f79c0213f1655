from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from clients.tests.factories import ClientFactory
from mailings import services
from mailings.models import Mailing, MailingStatus, Message, MessageStatus
from mailings.tests.factories import MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db

URL = "/api/mailings/"


def iso(delta: timedelta) -> str:
    return (timezone.now() + delta).isoformat()


def payload(**overrides: Any) -> dict[str, Any]:
    body = {
        "text": "Sale today",
        "start_at": iso(timedelta(hours=1)),
        "end_at": iso(timedelta(hours=5)),
        "filter": {"operator_code": "900", "tag": "vip"},
        "send_window": {"start": "09:00", "end": "21:00"},
    }
    body.update(overrides)
    return body


def running_mailing(**kwargs: Any) -> Mailing:
    now = timezone.now()
    defaults = {
        "status": MailingStatus.RUNNING,
        "start_at": now - timedelta(minutes=5),
        "end_at": now + timedelta(hours=1),
    }
    return MailingFactory.create(**{**defaults, **kwargs})


# --- create -------------------------------------------------------------------------------


def test_create_answers_201_with_the_mailing(api: APIClient) -> None:
    response = api.post(URL, payload(), format="json")

    assert response.status_code == 201, response.data
    body = response.data
    assert body["status"] == "scheduled"
    assert body["filter"] == {"operator_code": "900", "tag": "vip"}
    assert body["send_window"] == {"start": "09:00", "end": "21:00"}
    assert body["messages"]["total"] == 0
    assert set(body["messages"]["by_status"]) == set(MessageStatus.values)
    mailing = Mailing.objects.get(pk=body["id"])
    assert (mailing.filter_operator_code, mailing.filter_tag) == ("900", "vip")


def test_a_time_without_offset_is_utc_and_filter_and_window_are_optional(api: APIClient) -> None:
    response = api.post(
        URL,
        {"text": "x", "start_at": "2099-01-01T10:00:00", "end_at": "2099-01-01T12:00"},
        format="json",
    )

    assert response.status_code == 201, response.data
    assert response.data["start_at"] == "2099-01-01T10:00:00Z"
    assert response.data["filter"] == {"operator_code": None, "tag": None}
    assert response.data["send_window"] is None


def test_creating_a_due_mailing_enqueues_its_launch_on_commit(
    api: APIClient, on_commit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched: list[int] = []
    monkeypatch.setattr(services.actions, "enqueue_launch", launched.append)

    with on_commit(execute=True):
        due = api.post(URL, payload(start_at=iso(-timedelta(seconds=1))), format="json")
        future = api.post(URL, payload(), format="json")

    assert launched == [due.data["id"]]
    assert future.data["id"] not in launched


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"end_at": iso(timedelta(minutes=30))}, "end_at"),  # before start
        ({"start_at": iso(-timedelta(hours=3)), "end_at": iso(-timedelta(hours=1))}, "end_at"),
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"start_at": "tomorrow"}, "start_at"),
        ({"send_window": {"start": "10:00", "end": "10:00"}}, "send_window"),
        ({"send_window": {"start": "25:00", "end": "10:00"}}, "send_window"),
        ({"send_window": {"start": "10:00"}}, "send_window"),
        ({"send_window": "09-21"}, "send_window"),
        ({"filter": {"operator_code": "9"}}, "filter"),
        ({"filter": {"tag": "x" * 65}}, "filter"),
        ({"filter": ["900"]}, "filter"),
    ],
)
def test_bad_mailings_are_a_400_naming_the_field(
    api: APIClient, overrides: dict[str, Any], field: str
) -> None:
    response = api.post(URL, payload(**overrides), format="json")

    assert response.status_code == 400, response.data
    assert field in response.data
    assert Mailing.objects.count() == 0


def test_a_window_crossing_midnight_and_an_empty_filter_are_valid(api: APIClient) -> None:
    response = api.post(
        URL,
        payload(
            send_window={"start": "22:00", "end": "06:00"},
            filter={"tag": "", "operator_code": None},
        ),
        format="json",
    )

    assert response.status_code == 201, response.data
    assert response.data["send_window"] == {"start": "22:00", "end": "06:00"}
    assert response.data["filter"] == {"operator_code": None, "tag": None}


# --- read ---------------------------------------------------------------------------------


def test_list_shows_each_mailings_counts_in_a_fixed_number_of_queries(
    api: APIClient, django_assert_max_num_queries: Any
) -> None:
    mailings = [running_mailing() for _ in range(5)]
    for mailing in mailings:
        MessageFactory.create(mailing=mailing, status=MessageStatus.SENT)
        MessageFactory.create(mailing=mailing, status=MessageStatus.FAILED)

    # The user and its role, the page's count and rows, their message counts.
    with django_assert_max_num_queries(5):
        response = api.get(URL)

    assert response.data["count"] == 5
    for row in response.data["results"]:
        assert row["messages"]["total"] == 2
        assert row["messages"]["by_status"]["sent"] == 1
        assert row["messages"]["by_status"]["pending"] == 0


def test_retrieve_and_missing_mailing(api: APIClient) -> None:
    mailing = MailingFactory.create()

    assert api.get(f"{URL}{mailing.pk}/").data["id"] == mailing.pk
    assert api.get(f"{URL}{mailing.pk + 1}/").status_code == 404
    assert api.get(f"{URL}abc/").status_code == 404


# --- update -------------------------------------------------------------------------------


def test_a_scheduled_mailing_may_change_anything(api: APIClient) -> None:
    mailing = MailingFactory.create()

    response = api.patch(
        f"{URL}{mailing.pk}/",
        {"filter": {"tag": "new"}, "text": "changed", "send_window": None},
        format="json",
    )

    assert response.status_code == 200, response.data
    mailing.refresh_from_db()
    assert (mailing.filter_tag, mailing.text, mailing.send_window_start) == ("new", "changed", None)


def test_put_replaces_a_scheduled_mailing(api: APIClient) -> None:
    mailing = MailingFactory.create()

    response = api.put(f"{URL}{mailing.pk}/", payload(text="replaced"), format="json")

    assert response.status_code == 200, response.data
    mailing.refresh_from_db()
    assert (mailing.text, mailing.filter_operator_code) == ("replaced", "900")


def test_update_checks_times_against_the_stored_values(api: APIClient) -> None:
    mailing = MailingFactory.create()

    response = api.patch(
        f"{URL}{mailing.pk}/",
        {"end_at": (mailing.start_at - timedelta(minutes=1)).isoformat()},
        format="json",
    )

    assert response.status_code == 400
    assert "end_at" in response.data


def test_a_running_mailing_may_change_end_text_and_window_only(api: APIClient) -> None:
    mailing = running_mailing(filter_tag="vip")
    new_end = iso(timedelta(hours=3))

    ok = api.patch(
        f"{URL}{mailing.pk}/",
        {"end_at": new_end, "text": "new text", "send_window": {"start": "08:00", "end": "20:00"}},
        format="json",
    )
    same_filter = api.patch(f"{URL}{mailing.pk}/", {"filter": {"tag": "vip"}}, format="json")
    new_filter = api.patch(f"{URL}{mailing.pk}/", {"filter": {"tag": "other"}}, format="json")
    new_start = api.patch(f"{URL}{mailing.pk}/", {"start_at": iso(timedelta(0))}, format="json")
    past_end = api.patch(
        f"{URL}{mailing.pk}/", {"end_at": iso(-timedelta(minutes=1))}, format="json"
    )

    assert ok.status_code == 200, ok.data
    assert same_filter.status_code == 200  # repeating the current value is not a change
    assert new_filter.status_code == 409
    assert "filter" in new_filter.data["detail"]
    assert new_start.status_code == 409
    assert past_end.status_code == 400
    mailing.refresh_from_db()
    assert (mailing.text, mailing.filter_tag) == ("new text", "vip")


@pytest.mark.parametrize("status", [MailingStatus.FINISHED, MailingStatus.CANCELLED])
def test_a_finished_or_cancelled_mailing_cannot_change(api: APIClient, status: str) -> None:
    mailing = running_mailing(status=status, text="old")

    response = api.patch(f"{URL}{mailing.pk}/", {"text": "new"}, format="json")

    assert response.status_code == 409
    mailing.refresh_from_db()
    assert mailing.text == "old"


# --- actions ------------------------------------------------------------------------------


def test_start_mailing_moves_start_to_now_and_launches(
    api: APIClient, on_commit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ClientFactory.create()
    mailing = MailingFactory.create()
    monkeypatch.setattr(
        services.actions, "enqueue_launch", lambda pk: services.mailing_launch(mailing_id=pk)
    )

    with on_commit(execute=True):
        response = api.post(f"{URL}{mailing.pk}/start_mailing/")

    assert response.status_code == 200
    mailing.refresh_from_db()
    assert mailing.start_at <= timezone.now()
    assert mailing.status == MailingStatus.RUNNING
    assert mailing.messages.count() == 1


def test_start_mailing_works_without_the_trailing_slash_as_in_the_seed(api: APIClient) -> None:
    mailing = MailingFactory.create()

    assert api.post(f"{URL}{mailing.pk}/start_mailing").status_code == 200


def test_start_mailing_is_a_no_op_when_running_and_409_when_done(api: APIClient) -> None:
    running = running_mailing()
    start_before = running.start_at
    finished = running_mailing(status=MailingStatus.FINISHED)
    cancelled = running_mailing(status=MailingStatus.CANCELLED)

    assert api.post(f"{URL}{running.pk}/start_mailing/").status_code == 200
    running.refresh_from_db()
    assert running.start_at == start_before
    assert api.post(f"{URL}{finished.pk}/start_mailing/").status_code == 409
    assert api.post(f"{URL}{cancelled.pk}/start_mailing/").status_code == 409
    assert api.post(f"{URL}{cancelled.pk + 100}/start_mailing/").status_code == 404


def test_cancel_cancels_undelivered_messages_and_is_idempotent(api: APIClient) -> None:
    mailing = running_mailing()
    pending = MessageFactory.create(mailing=mailing, status=MessageStatus.PENDING)
    sent = MessageFactory.create(mailing=mailing, status=MessageStatus.SENT)

    first = api.post(f"{URL}{mailing.pk}/cancel_mailing/")
    second = api.post(f"{URL}{mailing.pk}/cancel_mailing/")

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.data["status"] == second.data["status"] == "cancelled"
    assert first.data["messages"]["by_status"]["cancelled"] == 1
    pending.refresh_from_db()
    sent.refresh_from_db()
    assert (pending.status, sent.status) == (MessageStatus.CANCELLED, MessageStatus.SENT)


def test_cancel_leaves_a_finished_mailing_finished(api: APIClient) -> None:
    mailing = running_mailing(status=MailingStatus.FINISHED)

    response = api.post(f"{URL}{mailing.pk}/cancel_mailing/")

    assert response.status_code == 200
    assert response.data["status"] == "finished"


def test_retry_failed_requeues_failed_messages_and_reruns_a_finished_mailing(
    api: APIClient,
) -> None:
    mailing = running_mailing(status=MailingStatus.FINISHED)
    failed = MessageFactory.create(mailing=mailing, status=MessageStatus.FAILED, attempts=10)
    sent = MessageFactory.create(mailing=mailing, status=MessageStatus.SENT)

    response = api.post(f"{URL}{mailing.pk}/retry_failed/")

    assert response.status_code == 200
    assert response.data["status"] == "running"
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert (failed.status, failed.attempts) == (MessageStatus.PENDING, 0)
    assert sent.status == MessageStatus.SENT


def test_retry_failed_is_a_409_after_the_end_time_or_when_cancelled(api: APIClient) -> None:
    now = timezone.now()
    ended = MailingFactory.create(
        status=MailingStatus.FINISHED,
        start_at=now - timedelta(hours=2),
        end_at=now - timedelta(hours=1),
    )
    failed = MessageFactory.create(mailing=ended, status=MessageStatus.FAILED)
    cancelled = running_mailing(status=MailingStatus.CANCELLED)

    assert api.post(f"{URL}{ended.pk}/retry_failed/").status_code == 409
    assert api.post(f"{URL}{cancelled.pk}/retry_failed/").status_code == 409
    failed.refresh_from_db()
    assert failed.status == MessageStatus.FAILED


def test_delete_removes_the_mailing_and_its_messages(api: APIClient) -> None:
    mailing = running_mailing()
    MessageFactory.create_batch(3, mailing=mailing)
    other = MessageFactory.create()

    response = api.delete(f"{URL}{mailing.pk}/")

    assert response.status_code == 204
    assert not Mailing.objects.filter(pk=mailing.pk).exists()
    assert list(Message.objects.values_list("pk", flat=True)) == [other.pk]
    assert api.delete(f"{URL}{mailing.pk}/").status_code == 404


def test_every_mailing_endpoint_needs_a_token(anon: APIClient) -> None:
    mailing = MailingFactory.create()
    detail = f"{URL}{mailing.pk}/"
    calls = [
        ("get", URL),
        ("post", URL),
        ("get", detail),
        ("put", detail),
        ("patch", detail),
        ("delete", detail),
        ("post", f"{detail}start_mailing/"),
        ("post", f"{detail}cancel_mailing/"),
        ("post", f"{detail}retry_failed/"),
        ("get", f"{URL}statistics/"),
        ("get", f"{detail}message_statistics/"),
    ]
    for method, url in calls:
        assert getattr(anon, method)(url).status_code == 401, (method, url)
    assert Mailing.objects.filter(pk=mailing.pk, status=MailingStatus.SCHEDULED).exists()


def test_pause_and_resume_through_the_api(api: APIClient) -> None:
    mailing = MailingFactory.create(status=MailingStatus.RUNNING, started_at=timezone.now())

    paused = api.post(f"{URL}{mailing.pk}/pause_mailing/")
    again = api.post(f"{URL}{mailing.pk}/pause_mailing/")
    resumed = api.post(f"{URL}{mailing.pk}/resume_mailing/")
    not_paused = api.post(f"{URL}{mailing.pk}/resume_mailing/")

    assert (paused.status_code, paused.data["status"], paused.data["paused_reason"]) == (
        200,
        "paused",
        "operator",
    )
    assert (again.status_code, again.data["status"]) == (200, "paused")  # idempotent
    assert (resumed.status_code, resumed.data["status"]) == (200, "running")
    assert resumed.data["paused_reason"] is None
    assert not_paused.status_code == 409


def test_a_scheduled_mailing_paused_and_resumed_is_scheduled_again(api: APIClient) -> None:
    mailing = MailingFactory.create()

    api.post(f"{URL}{mailing.pk}/pause_mailing/")
    resumed = api.post(f"{URL}{mailing.pk}/resume_mailing/")

    assert resumed.data["status"] == "scheduled"


@pytest.mark.parametrize("status", [MailingStatus.FINISHED, MailingStatus.CANCELLED])
def test_an_ended_mailing_cannot_pause(api: APIClient, status: str) -> None:
    mailing = MailingFactory.create(status=status)

    answer = api.post(f"{URL}{mailing.pk}/pause_mailing/")

    assert answer.status_code == 409
    assert "cannot pause" in answer.json()["detail"]


def test_priority_and_max_rate_are_set_at_creation_and_shown(api: APIClient) -> None:
    body = payload(priority="high", max_rate=25.5)

    created = api.post(URL, body, format="json")

    assert created.status_code == 201, created.data
    assert (created.data["priority"], created.data["max_rate"]) == ("high", 25.5)
    assert api.post(URL, payload(priority="urgent"), format="json").status_code == 400
