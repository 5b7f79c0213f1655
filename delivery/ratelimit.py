"""The gateway's rate, shared by every worker process (SPEC 8.5).

Token buckets counted in segments: one for the gateway (``GATEWAY_RATE`` per second, up to
``GATEWAY_BURST`` saved), one per mailing with a ``max_rate``. A dispatcher takes tokens in
small batches (``take``), gives back what it did not use (``refund``), and sends a message
only with its segments in hand from every bucket that applies; waiting spends no attempt.

On a 429 the gateway bucket's rate halves (at most once a second, never below a twentieth of
the setting) and climbs back by a twentieth of the setting per second: additive increase,
multiplicative decrease.

The state lives in Redis when the broker is Redis (one Lua script per call, atomic across
processes and hosts) and in the database otherwise (a locked row per bucket). Written here:
the rate-limit libraries of this ecosystem (limits, pyrate-limiter) count requests in fixed
or sliding windows, take one token per call and have no adaptive rate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db import transaction

from delivery.models import RateBucket

INCREASE_PER_SECOND = 0.05  # of the configured rate
FLOOR = 0.05  # of the configured rate: the lowest a run of 429s takes it
DECREASE_EVERY = 1.0  # seconds: 429s of one burst halve the rate once


def gateway_key(rate: float, burst: float) -> str:
    """The gateway's bucket; a new setting starts a new bucket (no state of the old one)."""
    return f"gateway:{rate:g}:{burst:g}"


def mailing_key(mailing_id: int, rate: float) -> str:
    return f"mailing:{mailing_id}:{rate:g}"


@dataclass
class State:
    tokens: float
    stamp: float
    rate: float  # the effective rate (AIMD), at most the configured one
    rate_stamp: float
    decreased_at: float


def refill(state: State | None, now: float, configured: float, burst: float) -> State:
    """The bucket at ``now``: its rate climbed back, its tokens refilled (pure)."""
    if state is None:
        return State(burst, now, configured, now, 0.0)
    climbed = state.rate + max(now - state.rate_stamp, 0.0) * configured * INCREASE_PER_SECOND
    rate = min(configured, climbed)
    tokens = min(burst, state.tokens + max(now - state.stamp, 0.0) * rate)
    return State(tokens, now, rate, now, state.decreased_at)


def halve(state: State, now: float, configured: float) -> State:
    if now - state.decreased_at < DECREASE_EVERY:
        return state
    rate = max(configured * FLOOR, state.rate / 2)
    return State(state.tokens, state.stamp, rate, now, now)


class Store(Protocol):
    def take(self, key: str, wanted: int, rate: float, burst: float) -> int: ...
    def refund(self, key: str, tokens: int, rate: float, burst: float) -> None: ...
    def slow_down(self, key: str, rate: float, burst: float) -> float: ...
    def current_rate(self, key: str, rate: float, burst: float) -> float: ...


class DatabaseStore:
    """One locked row per bucket (the embedded defaults; any database)."""

    def _update(self, key: str, rate: float, burst: float, change: object) -> State:
        now = time.time()
        with transaction.atomic():
            row = RateBucket.objects.select_for_update().filter(key=key).first()
            state = refill(row.state() if row else None, now, rate, burst)
            state = change(state, now) if callable(change) else state
            RateBucket.objects.update_or_create(key=key, defaults=RateBucket.fields_of(state))
        return state

    def take(self, key: str, wanted: int, rate: float, burst: float) -> int:
        granted = 0

        def grab(state: State, now: float) -> State:
            nonlocal granted
            granted = min(wanted, int(state.tokens))
            state.tokens -= granted
            return state

        self._update(key, rate, burst, grab)
        return granted

    def refund(self, key: str, tokens: int, rate: float, burst: float) -> None:
        with transaction.atomic():
            row = RateBucket.objects.select_for_update().filter(key=key).first()
            if row is not None:
                row.tokens = min(burst, row.tokens + tokens)
                row.save(update_fields=["tokens"])

    def slow_down(self, key: str, rate: float, burst: float) -> float:
        return self._update(key, rate, burst, lambda s, now: halve(s, now, rate)).rate

    def current_rate(self, key: str, rate: float, burst: float) -> float:
        row = RateBucket.objects.filter(key=key).first()
        return refill(row.state() if row else None, time.time(), rate, burst).rate


REDIS_SCRIPT = f"""
local key, wanted, rate, burst, op = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), ARGV[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local s = redis.call('HMGET', key, 'tokens', 'stamp', 'rate', 'rate_stamp', 'decreased_at')
local tokens, stamp, eff, rate_stamp, decreased = tonumber(s[1]), tonumber(s[2]),
    tonumber(s[3]), tonumber(s[4]), tonumber(s[5]) or 0
if tokens == nil then
  tokens, stamp, eff, rate_stamp = burst, now, rate, now
else
  eff = math.min(rate, eff + math.max(now - rate_stamp, 0) * rate * {INCREASE_PER_SECOND})
  tokens = math.min(burst, tokens + math.max(now - stamp, 0) * eff)
end
local result = 0
if op == 'take' then
  result = math.min(wanted, math.floor(tokens))
  tokens = tokens - result
elseif op == 'refund' then
  tokens = math.min(burst, tokens + wanted)
elseif op == 'slow' then
  if now - decreased >= {DECREASE_EVERY} then
    eff = math.max(rate * {FLOOR}, eff / 2)
    decreased = now
  end
end
redis.call('HSET', key, 'tokens', tokens, 'stamp', now, 'rate', eff, 'rate_stamp', now,
    'decreased_at', decreased)
redis.call('EXPIRE', key, 3600)
if op == 'rate' or op == 'slow' then return tostring(eff) end
return result
"""


class RedisStore:
    """One atomic Lua script per call, keys under ``mailing:ratelimit:``."""

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._client.register_script(REDIS_SCRIPT)

    def _call(self, key: str, amount: float, rate: float, burst: float, op: str) -> object:
        return self._script(keys=[f"mailing:ratelimit:{key}"], args=[amount, rate, burst, op])

    def take(self, key: str, wanted: int, rate: float, burst: float) -> int:
        return int(self._call(key, wanted, rate, burst, "take"))  # type: ignore[call-overload]

    def refund(self, key: str, tokens: int, rate: float, burst: float) -> None:
        self._call(key, tokens, rate, burst, "refund")

    def slow_down(self, key: str, rate: float, burst: float) -> float:
        return float(self._call(key, 0, rate, burst, "slow"))  # type: ignore[arg-type]

    def current_rate(self, key: str, rate: float, burst: float) -> float:
        return float(self._call(key, 0, rate, burst, "rate"))  # type: ignore[arg-type]


_store: Store | None = None


def store() -> Store:
    """Redis with a Redis broker, the database otherwise; one per process."""
    global _store
    if _store is None:
        url = settings.CELERY_BROKER_URL
        _store = RedisStore(url) if url.startswith(("redis://", "rediss://")) else DatabaseStore()
    return _store


def gateway_limit() -> tuple[float, float]:
    """(rate, burst) of the gateway bucket; a rate of 0 means no limit."""
    rate = float(settings.GATEWAY_RATE)
    return rate, float(settings.GATEWAY_BURST or rate)
