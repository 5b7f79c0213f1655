"""The dispatcher: claims due messages and sends them through the gateway concurrently.

One dispatcher runs inside one ``delivery.tasks.dispatch`` task, holding one of the
``DISPATCH_SLOTS`` slots, for at most ``DISPATCH_TASK_SECONDS``:

1. Take a permit from the shared breaker (``breaker.permit_take``): send freely, one
   probe, or nothing.
2. Claim as many due messages as there is room in flight (``DISPATCH_MAX_IN_FLIGHT``).
   The claim is the last database check before the requests: mailing running, before its
   end. Then, per message, in memory (``attempt.precheck``): the end time has not come and
   the client's local time is inside the send window (otherwise the message is deferred to
   the next opening).
3. Send each one as its own asyncio task over one aiohttp session. No database
   transaction is open while requests are in flight: the database runs in two helper
   threads (claims; writes), and the event loop only waits for the claims.
4. As requests finish, the retry policy decides each message's next state; the outcomes
   are written in bulk every ``FLUSH_SECONDS`` or ``FLUSH_SIZE`` outcomes, in the
   background, then the breaker's tally is recorded. The tally stops new claims at once on
   a run of transient failures or a credentials error.
5. Stop claiming when the time budget ends, the permit is withdrawn, or no work has been
   due for ``DISPATCH_IDLE_SECONDS``; wait for the requests in flight, write their
   outcomes, release the slot.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection

from delivery import breaker, metrics, services
from delivery.attempt import attempt, precheck
from delivery.policy import Decision, Kind, RetryPolicy
from gateway.client import GatewayClient, Result
from mailings.messages import (
    ClaimedMessage,
    MessageOutcome,
    messages_claim,
    messages_record_outcomes,
)

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.2
FLUSH_SIZE = 500
POLL_SECONDS = 0.05
SLOT_RENEW_SECONDS = 5.0

T = TypeVar("T")
Done = tuple[ClaimedMessage, Decision]


@dataclass
class Report:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, kind: Kind) -> None:
        self.outcomes[kind.value] = self.outcomes.get(kind.value, 0) + 1


def _outcome(done: Done) -> MessageOutcome:
    message, decision = done
    return MessageOutcome(
        message_id=message.id,
        status=decision.kind.status,
        attempts=decision.attempts,
        next_attempt_at=decision.next_attempt_at,
        error=decision.error,
    )


class Dispatcher:
    def __init__(
        self,
        *,
        policy: RetryPolicy | None = None,
        max_in_flight: int | None = None,
        budget_seconds: float | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy.from_settings()
        self.max_in_flight = max_in_flight or settings.DISPATCH_MAX_IN_FLIGHT
        self.budget = budget_seconds or settings.DISPATCH_TASK_SECONDS
        self.idle = settings.DISPATCH_IDLE_SECONDS
        self.end_guard = timedelta(seconds=settings.DELIVERY_END_GUARD_SECONDS)
        self.token = uuid.uuid4()
        self.owner = f"{os.getpid()}:{self.token.hex[:12]}"
        self.report = Report()
        self.tally = breaker.Tally()
        self._in_flight: set[asyncio.Task[tuple[Decision, Result | None]]] = set()
        self._messages: dict[asyncio.Task[Any], ClaimedMessage] = {}
        self._done: list[Done] = []
        self._flushing: asyncio.Task[None] | None = None
        # Two database threads (each with its own connection): claims never wait behind a
        # flush of outcomes, and the event loop never waits for either.
        self._claims = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatch-claims")
        self._writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatch-writes")

    @staticmethod
    async def _on(executor: ThreadPoolExecutor, fn: Callable[..., T], /, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, lambda: fn(**kwargs))

    # --- batches ------------------------------------------------------------------------

    async def _flush(self) -> None:
        """Write the outcomes gathered so far, then record the breaker's tally."""
        done, self._done = self._done, []
        tally = self.tally.take()
        if done:
            outcomes = [_outcome(item) for item in done]
            await self._on(
                self._writes, messages_record_outcomes, token=self.token, outcomes=outcomes
            )
            for _, decision in done:
                self.report.count(decision.kind)
                metrics.MESSAGES.labels(decision.kind.value).inc()
        if tally.has_news:
            await self._on(self._writes, breaker.record, tally=tally)

    def _flush_in_background(self) -> None:
        if self._flushing is None or self._flushing.done():
            if self._flushing is not None:
                self._flushing.result()  # surface a failed write
            self._flushing = asyncio.create_task(self._flush())

    async def _flush_all(self) -> None:
        if self._flushing is not None:
            await self._flushing
        await self._flush()

    async def _claim(self, gateway: GatewayClient, room: int) -> tuple[int, bool]:
        """Claim and start up to ``room`` messages; returns (claimed, may claim again)."""
        permit = await self._on(self._claims, breaker.permit_take)
        if permit is breaker.Permit.WAIT:
            return 0, False
        limit = 1 if permit is breaker.Permit.PROBE else room
        batch = await self._on(self._claims, messages_claim, limit=limit, token=self.token)
        self.report.claimed += len(batch)
        for message in batch:
            early = precheck(message, end_guard=self.end_guard)
            if early is not None:
                self._done.append((message, early))
                continue
            task = asyncio.create_task(
                attempt(gateway, message, policy=self.policy, end_guard=self.end_guard)
            )
            self._in_flight.add(task)
            self._messages[task] = message
        return len(batch), permit is breaker.Permit.SEND

    async def _collect(self) -> None:
        """Wait a little for requests to finish; note their decisions and results."""
        finished, _ = await asyncio.wait(
            self._in_flight, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        for task in finished:
            self._in_flight.discard(task)
            decision, result = task.result()
            self._done.append((self._messages.pop(task), decision))
            if result is not None:
                self.tally.note(result)

    async def run(self, *, slot_id: int) -> Report:
        deadline = time.monotonic() + self.budget
        last_flush = last_renew = last_work = time.monotonic()
        claiming = True
        async with GatewayClient(
            settings.GATEWAY_URL,
            settings.GATEWAY_TOKEN,
            timeout=settings.GATEWAY_TIMEOUT_SECONDS,
            max_in_flight=self.max_in_flight,
        ) as gateway:
            while claiming or self._in_flight:
                now = time.monotonic()
                if claiming and (now >= deadline or self.tally.must_stop_claiming):
                    claiming = False
                room = self.max_in_flight - len(self._in_flight)
                if claiming and room >= max(1, self.max_in_flight // 4):
                    claimed, may_claim = await self._claim(gateway, room)
                    last_work = now if claimed else last_work
                    claiming = may_claim and (claimed > 0 or now - last_work < self.idle)
                if self._in_flight:
                    await self._collect()
                elif claiming:
                    await asyncio.sleep(POLL_SECONDS * 4)
                now = time.monotonic()
                if self._done and (
                    len(self._done) >= FLUSH_SIZE
                    or now - last_flush >= FLUSH_SECONDS
                    or self.tally.must_stop_claiming
                    or not self._in_flight
                ):
                    self._flush_in_background()
                    last_flush = now
                if now - last_renew >= SLOT_RENEW_SECONDS:
                    await self._on(
                        self._claims, services.slot_renew, slot_id=slot_id, owner=self.owner
                    )
                    last_renew = now
            await self._flush_all()
        return self.report

    def acquire_slot(self) -> int | None:
        return self._claims.submit(services.slot_acquire, owner=self.owner).result()

    def release_slot(self, slot_id: int) -> None:
        self._claims.submit(services.slot_release, slot_id=slot_id, owner=self.owner).result()

    def close(self) -> None:
        # Close each helper thread's own connection (``connection`` resolves per thread).
        for executor in (self._claims, self._writes):
            executor.submit(lambda: connection.close()).result()
            executor.shutdown(wait=True)


def dispatch_run(**kwargs: Any) -> Report | None:
    """Run one dispatcher if a slot is free; the body of the ``dispatch`` task."""
    dispatcher = Dispatcher(**kwargs)
    try:
        slot_id = dispatcher.acquire_slot()
        if slot_id is None:
            return None
        try:
            report = asyncio.run(dispatcher.run(slot_id=slot_id))
        finally:
            dispatcher.release_slot(slot_id)
        if report.claimed:
            logger.info(
                "dispatcher finished",
                extra={"claimed": report.claimed, "outcomes": report.outcomes, "slot": slot_id},
            )
        return report
    finally:
        dispatcher.close()
