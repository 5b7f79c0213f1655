"""What to do with a message after an attempt: the retry policy, as data.

``decide`` is pure: given the gateway's answer, the attempts so far and the clock, it returns
the message's next state. SPEC section 5: transient errors retry with exponential backoff and
full jitter, honouring ``Retry-After``, bounded by the end time and the attempt budget; a 429
and a credentials error spend no attempt; other 4xx fail the message at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from django.conf import settings

from gateway.client import GatewayError, Result
from mailings.models import MessageStatus


class Kind(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # back to pending, due at next_attempt_at
    FAILED = "failed"
    EXPIRED = "expired"
    DEFERRED = "deferred"  # not sent: outside the send window, due at its next opening
    RELEASED = "released"  # not blamed: paused (credentials) or not started

    @property
    def status(self) -> MessageStatus:
        """The message's status after a decision of this kind."""
        return _STATUS_AFTER[self]


_STATUS_AFTER = {
    Kind.SENT: MessageStatus.SENT,
    Kind.RETRY: MessageStatus.PENDING,
    Kind.DEFERRED: MessageStatus.PENDING,
    Kind.RELEASED: MessageStatus.PENDING,
    Kind.FAILED: MessageStatus.FAILED,
    Kind.EXPIRED: MessageStatus.EXPIRED,
}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 10
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    credentials_pause: float = 60.0

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        return cls(
            max_attempts=settings.DELIVERY_MAX_ATTEMPTS,
            backoff_base=settings.DELIVERY_BACKOFF_BASE_SECONDS,
            backoff_cap=settings.DELIVERY_BACKOFF_CAP_SECONDS,
            credentials_pause=settings.CREDENTIALS_PAUSE_SECONDS,
        )

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** max(attempt - 1, 0))
        return (rng or random).uniform(0, ceiling)


class Decision(NamedTuple):  # one per message: a tuple is cheaper to build than a dataclass
    kind: Kind
    attempts: int
    next_attempt_at: datetime | None = None
    error: str = ""


def decide(
    error: GatewayError | None,
    *,
    attempts: int,
    now: datetime,
    end_at: datetime,
    policy: RetryPolicy,
    rng: random.Random | None = None,
) -> Decision:
    """The message's next state after an attempt that ended with ``error`` (None: delivered).

    ``attempts`` is the count before this attempt. Reads the gateway's one classification
    (``error.kind``); nothing here inspects the answer again.
    """
    if error is None:
        return Decision(Kind.SENT, attempts + 1)
    match error.kind:
        case Result.CREDENTIALS:
            pause = timedelta(seconds=policy.credentials_pause)
            return Decision(Kind.RELEASED, attempts, now + pause, error.reason)
        case Result.PERMANENT:
            return Decision(Kind.FAILED, attempts + 1, None, error.reason)
        case Result.RATE_LIMITED:
            spent = attempts
        case _:
            spent = attempts + 1
    if spent >= policy.max_attempts:
        return Decision(Kind.FAILED, spent, None, f"{error.reason} (after {spent} attempts)")
    delay = policy.backoff(max(spent, 1), rng)
    if error.retry_after is not None:
        delay = max(delay, error.retry_after)
    due = now + timedelta(seconds=delay)
    if due >= end_at:
        return Decision(Kind.EXPIRED, spent, None, f"{error.reason}; the end time comes first")
    return Decision(Kind.RETRY, spent, due, error.reason)
