from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.client import (
    CredentialsError,
    GatewayError,
    PermanentError,
    Result,
    TransientError,
    classify,
    parse_retry_after,
)

OK = b'{"code": 0, "message": "OK"}'


def test_200_with_code_0_is_a_delivery() -> None:
    assert classify(200, OK, {}) is Result.SUCCESS


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"message": "OK"}',
        b'{"code": 1}',
        b'{"code": "0"}',
        b'{"code": false}',
    ],
)
def test_200_with_a_malformed_body_or_nonzero_code_is_transient(body: bytes) -> None:
    with pytest.raises(TransientError) as caught:
        classify(200, body, {})
    assert not caught.value.rate_limited


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504, 599])
def test_timeouts_and_server_errors_are_transient(status: int) -> None:
    with pytest.raises(TransientError) as caught:
        classify(status, b"", {"Retry-After": "7"})
    assert caught.value.retry_after == 7.0
    assert not caught.value.rate_limited


def test_429_is_transient_rate_limited_with_its_retry_after() -> None:
    with pytest.raises(TransientError) as caught:
        classify(429, b"", {"Retry-After": "3"})
    assert caught.value.rate_limited
    assert caught.value.retry_after == 3.0


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_our_credentials(status: int) -> None:
    with pytest.raises(CredentialsError):
        classify(status, b"", {})


@pytest.mark.parametrize("status", [400, 404, 409, 410, 422])
def test_other_4xx_are_permanent(status: int) -> None:
    with pytest.raises(PermanentError) as caught:
        classify(status, b'{"message": "bad phone"}', {})
    assert "bad phone" in caught.value.reason


@pytest.mark.parametrize("status", [201, 204, 301, 302])
def test_other_statuses_are_transient(status: int) -> None:
    with pytest.raises(TransientError):
        classify(status, OK, {})


def test_retry_after_as_seconds_as_a_date_and_garbage() -> None:
    now = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Fri, 27 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Fri, 27 Nov 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("999999") == 3600.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, OK, Result.SUCCESS),
        (200, b'{"code": 3}', Result.TRANSIENT),
        (503, b"", Result.TRANSIENT),
        (408, b"", Result.TRANSIENT),
        (429, b"", Result.RATE_LIMITED),
        (400, b"bad", Result.PERMANENT),
        (401, b"", Result.CREDENTIALS),
        (403, b"", Result.CREDENTIALS),
    ],
)
def test_every_answer_carries_its_one_classification(
    status: int, body: bytes, kind: Result
) -> None:
    try:
        got = classify(status, body, {})
    except GatewayError as exc:
        got = exc.kind
    assert got is kind
