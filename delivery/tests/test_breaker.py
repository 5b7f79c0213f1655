"""The circuit breaker alone: the tally is pure; the shared row needs only the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from delivery import breaker
from delivery.breaker import Permit, Tally
from delivery.models import Circuit, GatewayState
from gateway.client import Result

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def tally_of(*results: Result, threshold: int = 3) -> Tally:
    tally = Tally(threshold=threshold)
    for result in results:
        tally.note(result)
    return tally


def test_a_run_of_transient_failures_stops_this_dispatcher_claiming() -> None:
    assert not tally_of(Result.TRANSIENT, Result.TRANSIENT).must_stop_claiming
    assert tally_of(Result.TRANSIENT, Result.TRANSIENT, Result.TRANSIENT).must_stop_claiming


def test_a_success_breaks_the_run() -> None:
    tally = tally_of(Result.TRANSIENT, Result.TRANSIENT, Result.SUCCESS, Result.TRANSIENT)

    assert not tally.must_stop_claiming
    assert (tally.successes, tally.failures, tally.failures_since_success) == (1, 3, 1)


def test_rate_limits_and_permanent_errors_neither_count_nor_break_a_run() -> None:
    tally = tally_of(Result.TRANSIENT, Result.RATE_LIMITED, Result.PERMANENT, Result.TRANSIENT)

    assert (tally.successes, tally.failures, tally.run) == (0, 2, 2)


def test_one_credentials_error_stops_claiming_at_once() -> None:
    assert tally_of(Result.CREDENTIALS).must_stop_claiming


def test_take_hands_over_the_counts_and_keeps_the_run() -> None:
    tally = tally_of(Result.SUCCESS, Result.TRANSIENT, Result.TRANSIENT)

    taken = tally.take()

    assert (taken.successes, taken.failures, taken.failures_since_success) == (1, 2, 2)
    assert (tally.successes, tally.failures) == (0, 0)
    assert (tally.failures_since_success, tally.run) == (2, 2)
    assert not tally.has_news
    assert taken.has_news


@pytest.fixture
def state(db: None, settings: Any) -> GatewayState:
    settings.BREAKER_FAILURE_THRESHOLD = 3
    settings.BREAKER_RESET_SECONDS = 30
    settings.CREDENTIALS_PAUSE_SECONDS = 60
    return breaker.gateway_state()


def reload() -> GatewayState:
    return GatewayState.objects.get(pk=1)


def test_the_threshold_of_failures_over_several_flushes_opens_the_circuit(
    state: GatewayState,
) -> None:
    breaker.record(tally_of(Result.TRANSIENT, Result.TRANSIENT), now=NOW)
    assert reload().circuit == Circuit.CLOSED

    breaker.record(tally_of(Result.TRANSIENT), now=NOW)

    opened = reload()
    assert (opened.circuit, opened.pause_reason) == (Circuit.OPEN, "circuit")
    assert opened.paused_until == NOW + timedelta(seconds=30)
    assert breaker.permit_take(now=NOW) is Permit.WAIT
    assert breaker.pause_reason(now=NOW) == "circuit"


def test_a_success_in_a_flush_restarts_the_count_from_its_trailing_failures(
    state: GatewayState,
) -> None:
    breaker.record(tally_of(Result.TRANSIENT, Result.TRANSIENT), now=NOW)
    breaker.record(tally_of(Result.SUCCESS, Result.TRANSIENT), now=NOW)

    assert (reload().circuit, reload().consecutive_failures) == (Circuit.CLOSED, 1)


def test_after_the_pause_exactly_one_caller_wins_the_probe(state: GatewayState) -> None:
    breaker.record(tally_of(Result.TRANSIENT, Result.TRANSIENT, Result.TRANSIENT), now=NOW)
    after = NOW + timedelta(seconds=31)

    assert breaker.permit_take(now=after) is Permit.PROBE
    assert breaker.permit_take(now=after) is Permit.WAIT
    assert reload().circuit == Circuit.HALF_OPEN


def test_a_successful_probe_closes_and_a_failed_one_opens_again(state: GatewayState) -> None:
    breaker.record(tally_of(Result.TRANSIENT, Result.TRANSIENT, Result.TRANSIENT), now=NOW)
    probe_at = NOW + timedelta(seconds=31)
    assert breaker.permit_take(now=probe_at) is Permit.PROBE

    breaker.record(tally_of(Result.TRANSIENT), now=probe_at)
    assert reload().circuit == Circuit.OPEN
    assert reload().paused_until == probe_at + timedelta(seconds=30)

    second_probe = probe_at + timedelta(seconds=31)
    assert breaker.permit_take(now=second_probe) is Permit.PROBE
    breaker.record(tally_of(Result.SUCCESS), now=second_probe)

    closed = reload()
    assert (closed.circuit, closed.paused_until, closed.pause_reason) == (Circuit.CLOSED, None, "")
    assert breaker.permit_take(now=second_probe) is Permit.SEND
    assert breaker.pause_reason(now=second_probe) is None


def test_a_credentials_error_pauses_everyone_for_the_credentials_pause(
    state: GatewayState,
) -> None:
    breaker.record(tally_of(Result.CREDENTIALS), now=NOW)

    paused = reload()
    assert (paused.circuit, paused.pause_reason) == (Circuit.OPEN, "credentials")
    assert paused.paused_until == NOW + timedelta(seconds=60)
    assert breaker.pause_reason(now=NOW + timedelta(seconds=59)) == "credentials"
    assert breaker.pause_reason(now=NOW + timedelta(seconds=61)) is None


def test_a_tally_without_news_writes_nothing(state: GatewayState) -> None:
    breaker.record(tally_of(Result.RATE_LIMITED, Result.PERMANENT), now=NOW)

    assert (reload().circuit, reload().consecutive_failures) == (Circuit.CLOSED, 0)


def writes_of(run: Callable[[], object]) -> list[str]:
    """The statements other than reads that ``run`` sent to the database."""
    with CaptureQueriesContext(connection) as queries:
        run()
    return [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]


def test_successes_on_a_calm_closed_circuit_are_recorded_without_a_write(
    state: GatewayState,
) -> None:
    assert writes_of(lambda: breaker.record(tally_of(Result.SUCCESS), now=NOW)) == []
    assert (reload().circuit, reload().consecutive_failures) == (Circuit.CLOSED, 0)


def test_successes_still_clear_the_failures_another_dispatcher_recorded(
    state: GatewayState,
) -> None:
    breaker.record(tally_of(Result.TRANSIENT, Result.TRANSIENT), now=NOW)  # another one's run

    assert writes_of(lambda: breaker.record(tally_of(Result.SUCCESS), now=NOW)) != []
    assert (reload().circuit, reload().consecutive_failures) == (Circuit.CLOSED, 0)
    breaker.record(tally_of(Result.TRANSIENT, Result.TRANSIENT), now=NOW)  # 2 of 3: closed
    assert reload().circuit == Circuit.CLOSED


def test_the_permit_is_send_while_closed_and_wait_while_open(state: GatewayState) -> None:
    assert breaker.permit_take(now=NOW) is Permit.SEND
    breaker.record(tally_of(Result.CREDENTIALS), now=NOW)

    assert breaker.permit_take(now=NOW + timedelta(seconds=1)) is Permit.WAIT
