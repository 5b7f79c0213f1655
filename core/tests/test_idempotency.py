"""Idempotency-Key on the POST routes that create things (SPEC 8.6)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from clients.models import Client
from core.idempotency import idempotency_purge
from core.models import IdempotencyRecord
from mailings.models import Mailing

pytestmark = pytest.mark.django_db


def mailing_body(text: str = "Once only") -> dict[str, Any]:
    start = timezone.now() + timedelta(hours=1)
    return {
        "text": text,
        "start_at": start.isoformat(),
        "end_at": (start + timedelta(days=1)).isoformat(),
    }


def test_a_retried_create_returns_the_first_answer_and_creates_nothing_more(
    api: APIClient,
) -> None:
    body = mailing_body()
    first = api.post("/api/mailings/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/api/mailings/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Mailing.objects.count() == 1


def test_without_a_key_every_post_creates(api: APIClient) -> None:
    body = mailing_body()
    api.post("/api/mailings/", body, format="json")
    api.post("/api/mailings/", body, format="json")

    assert Mailing.objects.count() == 2


def test_the_same_key_with_another_body_is_a_422(api: APIClient) -> None:
    api.post("/api/mailings/", mailing_body("A"), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    other = api.post("/api/mailings/", mailing_body("B"), format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    assert other.status_code == 422
    assert "another request" in other.json()["detail"]
    assert list(Mailing.objects.values_list("text", flat=True)) == ["A"]


def test_keys_belong_to_one_account(api: APIClient, django_user_model: Any) -> None:
    from accounts.roles import set_role

    other_user = django_user_model.objects.create_user("other", password="other-pass-1")
    set_role(other_user, "operator")
    other = APIClient()
    other.force_authenticate(other_user)
    body = {"phone": "79001112233"}

    assert (
        api.post("/api/clients/", body, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    )
    second = other.post("/api/clients/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert second.status_code == 400  # ran: the phone exists now (not a replay)
    assert "Idempotent-Replayed" not in second


def test_a_refused_key_is_a_400(api: APIClient) -> None:
    answer = api.post(
        "/api/clients/", {"phone": "79001112233"}, format="json", HTTP_IDEMPOTENCY_KEY="x" * 256
    )

    assert answer.status_code == 400
    assert "Idempotency-Key" in answer.json()
    assert Client.objects.count() == 0


def test_an_import_replays_its_counts(api: APIClient) -> None:
    rows = [{"phone": "79001112233"}, {"phone": "79001112234"}]
    first = api.post("/api/clients/import/", rows, format="json", HTTP_IDEMPOTENCY_KEY="imp")
    again = api.post("/api/clients/import/", rows, format="json", HTTP_IDEMPOTENCY_KEY="imp")

    assert (
        first.json()
        == again.json()
        == {
            "created": 2,
            "updated": 0,
            "rejected": [],
            "rejected_count": 0,
        }
    )
    assert again["Idempotent-Replayed"] == "true"


def test_keys_are_forgotten_after_24_hours(api: APIClient) -> None:
    body = mailing_body()
    api.post("/api/mailings/", body, format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))

    again = api.post("/api/mailings/", body, format="json", HTTP_IDEMPOTENCY_KEY="old")

    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert Mailing.objects.count() == 2
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_purge() == 1


class HeldCreate:
    """Mailing creates through the API with one Idempotency-Key, the first one held inside
    its create (after its transaction began) until ``release``; each in a thread of its own
    when ``in_thread``, its answer kept under its name."""

    def __init__(self, user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        from mailings import services

        self.user, self.body = user, mailing_body()
        self.started, self.released = threading.Event(), threading.Event()
        self.answers: dict[str, Any] = {}
        real_create = services.mailing_create

        def slow_create(**kwargs: Any) -> Any:
            self.started.set()
            self.released.wait(10)
            return real_create(**kwargs)

        monkeypatch.setattr("mailings.views.services.mailing_create", slow_create)

    def post(self, name: str) -> Any:
        client = APIClient()
        client.force_authenticate(self.user)
        self.answers[name] = client.post(
            "/api/mailings/", self.body, format="json", HTTP_IDEMPOTENCY_KEY="race"
        )
        return self.answers[name]

    def in_thread(self, name: str) -> threading.Thread:
        def run() -> None:
            self.post(name)
            connections.close_all()

        thread = threading.Thread(target=run)
        thread.start()
        return thread


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_run_once_and_the_other_gets_409(
    user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serializes write transactions: the next test covers it there")
    race = HeldCreate(user, monkeypatch)

    first = race.in_thread("first")
    assert race.started.wait(10)
    while_running = race.post("while running")
    race.released.set()
    first.join(10)
    time.sleep(0.05)
    after = race.post("after")

    assert while_running.status_code == 409
    assert race.answers["first"].status_code == 201
    assert after.status_code == 201 and after["Idempotent-Replayed"] == "true"
    assert Mailing.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_on_sqlite_a_concurrent_request_with_one_key_waits_and_runs_nothing(
    user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite takes its write lock when the first request's transaction begins (the mailing
    and its audit entry commit together), so the second waits for it, then gets the first's
    answer (or a 409 if it looks in the moment before that answer is kept): never a second
    mailing."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL runs the two at once: the test above covers it")
    race = HeldCreate(user, monkeypatch)

    first = race.in_thread("first")
    assert race.started.wait(10)
    second = race.in_thread("second")
    time.sleep(0.3)
    assert "second" not in race.answers  # waiting for the first's transaction
    race.released.set()
    first.join(10)
    second.join(10)

    answers = race.answers
    assert answers["first"].status_code == 201
    assert answers["second"].status_code in (201, 409)
    if answers["second"].status_code == 201:
        assert answers["second"]["Idempotent-Replayed"] == "true"
    assert Mailing.objects.count() == 1
