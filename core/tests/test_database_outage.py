"""While the database is gone, /api/ answers 503 JSON with Retry-After, logged once."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.db import InterfaceError, OperationalError
from rest_framework.test import APIClient

from clients.views import ClientViewSet
from core import database


@pytest.fixture
def database_gone(monkeypatch: pytest.MonkeyPatch) -> Any:
    def unreachable(self: Any) -> Any:
        raise InterfaceError("connection already closed")

    monkeypatch.setattr(ClientViewSet, "get_queryset", unreachable)
    monkeypatch.setattr(database, "_API", database.OutageLog("api"))
    return unreachable


def test_every_api_request_is_a_503_with_retry_after_and_one_warning(
    api: APIClient, database_gone: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        answers = [api.get("/api/clients/") for _ in range(5)]

    for answer in answers:
        assert answer.status_code == 503
        assert answer["Content-Type"] == "application/json"
        assert answer["Retry-After"] == "5"
        assert answer.json() == {"detail": database.UNAVAILABLE}
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "api: the database is unavailable (InterfaceError); retrying"
    ]
    assert not any(r.exc_info for r in caplog.records)


def test_the_log_says_when_the_database_is_back(
    api: APIClient,
    database_gone: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert api.get("/api/clients/").status_code == 503
    outage = database._API
    monkeypatch.undo()  # the database is back
    monkeypatch.setattr(database, "_API", outage)

    with caplog.at_level(logging.WARNING):
        assert api.get("/api/clients/").status_code == 200

    assert any("the database is back" in r.getMessage() for r in caplog.records)


def test_other_database_errors_are_not_taken_for_an_outage(settings: Any) -> None:
    from django.db import IntegrityError, connection

    assert database.is_unavailable(InterfaceError("closed"))
    assert not database.is_unavailable(IntegrityError("duplicate key"))
    assert not database.is_unavailable(ValueError("no"))
    locked = OperationalError("database is locked")
    assert database.is_unavailable(locked) is (connection.vendor != "sqlite")


def test_liveness_does_not_touch_the_database(client: Any, database_gone: Any) -> None:
    assert client.get("/healthz").status_code == 200
