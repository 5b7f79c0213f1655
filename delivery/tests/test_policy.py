"""The retry policy alone: pure, no database, no sockets (SPEC section 5)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from delivery.policy import Kind, RetryPolicy, decide
from gateway.client import CredentialsError, PermanentError, TransientError
from mailings.models import MessageStatus

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
POLICY = RetryPolicy(max_attempts=10, backoff_base=1.0, backoff_cap=300.0, credentials_pause=60)


def test_a_delivery_is_sent_and_spends_one_attempt() -> None:
    decision = decide(None, attempts=2, now=NOW, end_at=LATER, policy=POLICY)

    assert (decision.kind, decision.attempts, decision.next_attempt_at) == (Kind.SENT, 3, None)
    assert decision.kind.status == MessageStatus.SENT


def test_a_permanent_error_fails_the_message_at_once() -> None:
    error = PermanentError("400: bad phone", status=400)

    decision = decide(error, attempts=0, now=NOW, end_at=LATER, policy=POLICY)

    assert (decision.kind, decision.attempts, decision.error) == (Kind.FAILED, 1, "400: bad phone")
    assert decision.kind.status == MessageStatus.FAILED


def test_a_credentials_error_blames_no_message_and_waits_the_pause() -> None:
    error = CredentialsError("401: the gateway rejected our credentials", status=401)

    decision = decide(error, attempts=4, now=NOW, end_at=LATER, policy=POLICY)

    assert (decision.kind, decision.attempts) == (Kind.RELEASED, 4)
    assert decision.next_attempt_at == NOW + timedelta(seconds=60)
    assert decision.kind.status == MessageStatus.PENDING


def test_a_transient_error_retries_within_the_full_jitter_ceiling() -> None:
    error = TransientError("503 from the gateway", status=503)
    for attempts, ceiling in [(0, 1), (1, 2), (2, 4), (5, 32), (8, 256)]:
        for seed in range(20):
            decision = decide(
                error,
                attempts=attempts,
                now=NOW,
                end_at=LATER,
                policy=POLICY,
                rng=random.Random(seed),
            )
            assert (decision.kind, decision.attempts) == (Kind.RETRY, attempts + 1)
            assert decision.next_attempt_at is not None
            assert NOW <= decision.next_attempt_at <= NOW + timedelta(seconds=ceiling)


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(max_attempts=50, backoff_base=1.0, backoff_cap=5.0)
    delays = [policy.backoff(30, random.Random(seed)) for seed in range(200)]

    assert max(delays) <= 5.0
    assert max(delays) > 4.0  # uniform up to the cap, not collapsed to zero


def test_retry_after_is_a_floor_on_the_delay() -> None:
    error = TransientError("503", status=503, retry_after=90.0)

    decision = decide(error, attempts=0, now=NOW, end_at=LATER, policy=POLICY)

    assert decision.next_attempt_at == NOW + timedelta(seconds=90)


def test_a_429_spends_no_attempt() -> None:
    error = TransientError("429 rate limited", status=429, retry_after=2.0, rate_limited=True)

    decision = decide(error, attempts=9, now=NOW, end_at=LATER, policy=POLICY)

    assert (decision.kind, decision.attempts) == (Kind.RETRY, 9)


def test_the_last_attempt_fails_the_message() -> None:
    error = TransientError("timeout")

    decision = decide(error, attempts=9, now=NOW, end_at=LATER, policy=POLICY)

    assert (decision.kind, decision.attempts) == (Kind.FAILED, 10)
    assert decision.error == "timeout (after 10 attempts)"


@pytest.mark.parametrize("retry_after", [None, 3600.0])
def test_a_retry_due_at_or_after_the_end_time_expires_instead(retry_after: float | None) -> None:
    error = TransientError("503", status=503, retry_after=retry_after)
    end_at = NOW + timedelta(milliseconds=1) if retry_after is None else LATER

    decision = decide(
        error, attempts=3, now=NOW, end_at=end_at, policy=POLICY, rng=random.Random(1)
    )

    assert (decision.kind, decision.attempts) == (Kind.EXPIRED, 4)
    assert decision.kind.status == MessageStatus.EXPIRED
    assert decision.error.endswith("the end time comes first")


def test_every_decision_kind_maps_to_a_message_status() -> None:
    assert {kind: kind.status for kind in Kind} == {
        Kind.SENT: MessageStatus.SENT,
        Kind.RETRY: MessageStatus.PENDING,
        Kind.DEFERRED: MessageStatus.PENDING,
        Kind.RELEASED: MessageStatus.PENDING,
        Kind.FAILED: MessageStatus.FAILED,
        Kind.EXPIRED: MessageStatus.EXPIRED,
    }
