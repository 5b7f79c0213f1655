from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from mailings.models import MailingStatus, MessageStatus
from mailings.tests.factories import MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db

ZERO_MESSAGES = dict.fromkeys(MessageStatus.values, 0)


@pytest.fixture
def known_data() -> dict[str, Any]:
    """Three mailings with a known mix of message statuses."""
    a = MailingFactory.create(status=MailingStatus.RUNNING)
    b = MailingFactory.create(status=MailingStatus.FINISHED)
    c = MailingFactory.create(status=MailingStatus.SCHEDULED)
    for status, n in [("sent", 3), ("pending", 2), ("failed", 1)]:
        MessageFactory.create_batch(n, mailing=a, status=status)
    for status, n in [("sent", 1), ("expired", 4)]:
        MessageFactory.create_batch(n, mailing=b, status=status)
    return {"a": a, "b": b, "c": c}


def test_overall_statistics_count_every_status(api: APIClient, known_data: dict[str, Any]) -> None:
    response = api.get("/api/mailings/statistics/")

    assert response.status_code == 200
    body = response.data
    assert list(body) == ["mailings", "messages", "count", "next", "previous", "results"]
    assert body["mailings"] == {
        "total": 3,
        "by_status": {"scheduled": 1, "running": 1, "paused": 0, "finished": 1, "cancelled": 0},
    }
    assert body["messages"] == {
        "total": 11,
        "by_status": {**ZERO_MESSAGES, "sent": 4, "pending": 2, "failed": 1, "expired": 4},
    }
    rows = {row["id"]: row for row in body["results"]}
    assert rows[known_data["a"].pk]["messages"] == {
        "total": 6,
        "by_status": {**ZERO_MESSAGES, "sent": 3, "pending": 2, "failed": 1},
    }
    assert rows[known_data["c"].pk]["messages"] == {"total": 0, "by_status": ZERO_MESSAGES}
    assert set(rows[known_data["b"].pk]) == {"id", "status", "start_at", "end_at", "messages"}


def test_overall_statistics_take_a_fixed_number_of_queries(
    api: APIClient, known_data: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    MailingFactory.create_batch(20)

    # The user behind the token and its role, the page's count and rows, its message
    # counts, and the two overall GROUP BYs: seven, however many mailings there are.
    with django_assert_max_num_queries(7):
        response = api.get("/api/mailings/statistics/", {"page_size": 10})

    assert response.data["count"] == 23
    assert len(response.data["results"]) == 10
    assert response.data["next"] is not None


def test_message_statistics_list_a_mailings_messages_with_counts(
    api: APIClient, known_data: dict[str, Any]
) -> None:
    a = known_data["a"]

    response = api.get(f"/api/mailings/{a.pk}/message_statistics/")

    assert response.status_code == 200
    body = response.data
    assert body["mailing"]["id"] == a.pk
    assert body["total"] == 6
    assert body["by_status"] == {**ZERO_MESSAGES, "sent": 3, "pending": 2, "failed": 1}
    assert body["count"] == 6
    assert set(body["results"][0]) == {
        "id",
        "client_id",
        "phone",
        "status",
        "attempts",
        "created_at",
        "sent_at",
        "next_attempt_at",
        "last_error",
    }


def test_message_statistics_filter_by_status_and_paginate(
    api: APIClient, known_data: dict[str, Any]
) -> None:
    a = known_data["a"]

    sent = api.get(
        f"/api/mailings/{a.pk}/message_statistics/", {"status": "sent", "page_size": "2"}
    )

    assert sent.data["count"] == 3
    assert sent.data["total"] == 6  # counts stay those of the whole mailing
    assert [m["status"] for m in sent.data["results"]] == ["sent", "sent"]
    assert sent.data["next"] is not None


def test_message_statistics_reject_an_unknown_status_and_a_missing_mailing(
    api: APIClient, known_data: dict[str, Any]
) -> None:
    bad = api.get(f"/api/mailings/{known_data['a'].pk}/message_statistics/", {"status": "lost"})
    missing = api.get("/api/mailings/999999/message_statistics/")

    assert bad.status_code == 400
    assert "status" in bad.data
    assert missing.status_code == 404
