"""A dispatcher's side of the rate limit: claimed messages wait here until their segments
are in hand from every bucket that applies (the gateway's, their mailing's), then start.

Tokens are taken in batches of about ``BATCH_SECONDS`` of the rate and what is left is given
back when the dispatcher ends, so several dispatchers share the rate without a round trip
per message. Without any limit every message starts at once.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Iterable

from delivery import ratelimit
from delivery.dbthreads import DatabaseThreads
from mailings import segments
from mailings.messages import ClaimedMessage

BATCH_SECONDS = 0.1
CLAIM_SECONDS = 2.0  # under a limit, claim at most this many seconds of the rate at once


class Pacer:
    def __init__(self, db: DatabaseThreads) -> None:
        self.db = db
        self.rate, self.burst = ratelimit.gateway_limit()
        self.waiting: deque[ClaimedMessage] = deque()
        self._credit: dict[str, int] = defaultdict(int)
        self._limits: dict[str, tuple[float, float]] = {}
        self._slowed_at = 0.0

    def ceiling(self, max_in_flight: int) -> int:
        """The most messages a dispatcher holds at once (in flight and waiting)."""
        if self.rate <= 0:
            return max_in_flight
        return min(max_in_flight, max(1, int(self.rate * CLAIM_SECONDS)))

    def add(self, messages: list[ClaimedMessage]) -> None:
        self.waiting.extend(messages)

    async def release(self) -> list[ClaimedMessage]:
        """The waiting messages whose segments are in hand, in claim (priority) order."""
        ready: list[ClaimedMessage] = []
        while self.waiting:
            message = self.waiting[0]
            keys, need = self._cost(message)
            if not keys:  # no limit applies: nothing to count
                ready.append(self.waiting.popleft())
                continue
            if not await self._ensure(keys, need):
                break
            for key in keys:
                self._credit[key] -= need
            ready.append(self.waiting.popleft())
        return ready

    def take_back(self, cleared: Iterable[ClaimedMessage]) -> list[ClaimedMessage]:
        """Messages that will not start after all (the gateway keeps failing): the segments
        of those already ``cleared`` by ``release`` count as credit again (given back when
        the dispatcher ends), and those still waiting leave the queue. Returns them all."""
        cleared = list(cleared)
        for message in cleared:
            keys, need = self._cost(message)
            for key in keys:
                self._credit[key] += need
        waiting, self.waiting = list(self.waiting), deque()
        return [*cleared, *waiting]

    def _cost(self, message: ClaimedMessage) -> tuple[list[str], int]:
        """The limits a message counts against, and its segments (0 when none applies)."""
        keys = self._keys(message)
        return keys, (segments.count(message.text).segments if keys else 0)

    def _keys(self, message: ClaimedMessage) -> list[str]:
        keys = []
        if self.rate > 0:
            key = ratelimit.gateway_key(self.rate, self.burst)
            keys.append(key)
            self._limits[key] = (self.rate, self.burst)
        if message.max_rate:
            key = ratelimit.mailing_key(message.mailing_id, message.max_rate)
            self._limits[key] = (message.max_rate, max(message.max_rate, 1.0))
            keys.append(key)
        return keys

    async def _ensure(self, keys: list[str], need: int) -> bool:
        for key in keys:
            if self._credit[key] >= need:
                continue
            rate, burst = self._limits[key]
            wanted = max(need - self._credit[key], int(rate * BATCH_SECONDS))
            self._credit[key] += await self.db.claim(
                ratelimit.store().take, key=key, wanted=wanted, rate=rate, burst=burst
            )
            if self._credit[key] < need:
                return False
        return True

    async def slow_down(self) -> None:
        """The gateway answered 429: lower the shared rate (at most once a second here)."""
        now = time.monotonic()
        if self.rate <= 0 or now - self._slowed_at < ratelimit.DECREASE_EVERY:
            return
        self._slowed_at = now
        key = ratelimit.gateway_key(self.rate, self.burst)
        await self.db.write(ratelimit.store().slow_down, key=key, rate=self.rate, burst=self.burst)

    async def give_back(self) -> None:
        """Return the tokens taken but not spent."""
        for key, credit in self._credit.items():
            if credit > 0:
                rate, burst = self._limits[key]
                await self.db.write(
                    ratelimit.store().refund, key=key, tokens=credit, rate=rate, burst=burst
                )
        self._credit.clear()
