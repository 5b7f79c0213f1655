"""The PostgreSQL backend checks a reused connection without a statement, and still replaces
one the server has closed before the next query (``core/postgresql/base.py``)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connection, connections

from clients.models import Client

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's backend"),
    pytest.mark.django_db(transaction=True),  # the test ends the connection's session
]


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _terminate(pid: int) -> None:
    """End the session ``pid`` from another connection, as a restart or an administrator
    would."""
    other = connections.create_connection(DEFAULT_DB_ALIAS)  # the same database, apart
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert cursor.fetchone() == (True,)
    finally:
        other.close()


def test_an_idle_connection_in_good_health_is_usable_without_a_statement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection.ensure_connection()

    def no_statement(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the health check sent a statement")

    monkeypatch.setattr(connection.connection, "cursor", no_statement)
    monkeypatch.setattr(connection.connection, "execute", no_statement)

    assert connection.is_usable() is True


def test_a_session_the_server_ended_is_replaced_before_the_next_query() -> None:
    Client.objects.create(phone="79001234567", operator_code="900")
    old = _backend_pid()
    _terminate(old)
    deadline = time.monotonic() + 5
    while connection.is_usable():  # the server's last words reach the socket
        assert time.monotonic() < deadline, "the ended session still looks usable"
        time.sleep(0.01)

    close_old_connections()  # as every request starts (and every Celery task)
    assert Client.objects.filter(phone="79001234567").count() == 1  # no error: a new session
    assert _backend_pid() != old


def test_a_closed_connection_is_not_usable() -> None:
    connection.ensure_connection()
    connection.connection.close()

    assert connection.is_usable() is False
    connection.close()  # Django's side too: the test's teardown connects again
