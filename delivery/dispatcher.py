"""The dispatcher: claims due messages and sends them through the gateway concurrently.

One dispatcher runs inside one ``delivery.tasks.dispatch`` task, holding one of the
``DISPATCH_SLOTS`` slots, for at most ``DISPATCH_TASK_SECONDS``:

1. Ask the shared gate (``breaker.gate_pass``) whether sending is allowed: freely, one
   probe, or not at all.
2. Claim as many due messages as there is room in flight (``DISPATCH_MAX_IN_FLIGHT``).
   The claim is the last database check before the requests: mailing running, before its
   end. Then, per message, in memory: the end time has not come and the client's local
   time is inside the send window (otherwise the message is deferred to the next opening).
3. Send each one as its own asyncio task over one aiohttp session. No database
   transaction is open while requests are in flight: the database runs in two helper
   threads (claims; writes), and the event loop only waits for the claims.
4. As requests finish, decide each message's next state (``policy.decide``) and write the
   outcomes in bulk every ``FLUSH_SECONDS`` or ``FLUSH_SIZE`` outcomes, in the background,
   then tell the breaker. Repeated transient failures or a credentials error stop new
   claims at once.
5. Stop claiming when the time budget ends, the gate closes, or no work has been due for
   ``DISPATCH_IDLE_SECONDS``; wait for the requests in flight, write their outcomes, release the
   slot.
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
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.logging import mask_phone
from delivery import breaker, metrics, services
from delivery.policy import Decision, Kind, RetryPolicy, decide
from delivery.services import ClaimedMessage, Outcome
from delivery.window import is_open_at, next_opening
from gateway.client import (
    CredentialsError,
    GatewayClient,
    GatewayError,
    PermanentError,
    TransientError,
)

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.2
FLUSH_SIZE = 500
POLL_SECONDS = 0.05
SLOT_RENEW_SECONDS = 5.0

T = TypeVar("T")


@dataclass
class Report:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, kind: Kind) -> None:
        self.outcomes[kind.value] = self.outcomes.get(kind.value, 0) + 1


def _result_label(error: GatewayError | None) -> str:
    if error is None:
        return "success"
    if isinstance(error, CredentialsError):
        return "credentials"
    if isinstance(error, PermanentError):
        return "permanent"
    if isinstance(error, TransientError) and error.rate_limited:
        return "rate_limited"
    return "transient"


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
        self.slot_id = 0
        self._in_flight: set[asyncio.Task[Outcome]] = set()
        # Two database threads (each with its own connection): claims never wait behind a
        # flush of outcomes, and the event loop never waits for either.
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatch-claims")
        self._writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatch-writes")
        self._flushing: asyncio.Task[None] | None = None
        self._outcomes: list[Outcome] = []
        # Breaker bookkeeping since the last flush, in completion order.
        self._successes = 0
        self._failures = 0
        self._failures_since_success = 0
        self._local_run = 0  # consecutive transient failures seen by this dispatcher
        self._credentials_error = False

    @staticmethod
    async def _on(executor: ThreadPoolExecutor, fn: Callable[..., T], /, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, lambda: fn(**kwargs))

    async def _in_db(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        return await self._on(self._db, fn, **kwargs)

    async def _in_writes(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        return await self._on(self._writes, fn, **kwargs)

    # --- one message --------------------------------------------------------------------

    def _too_late(self, message: ClaimedMessage) -> Decision | None:
        """A request must reach the gateway before the end time, so none starts within
        ``DELIVERY_END_GUARD_SECONDS`` of it."""
        if timezone.now() + self.end_guard >= message.end_at:
            return Decision(Kind.EXPIRED, message.attempts, None, "the end time came first")
        return None

    def _precheck(self, message: ClaimedMessage) -> Decision | None:
        """In-memory checks before the request: end time, then the send window."""
        now = timezone.now()
        expired = self._too_late(message)
        if expired is not None:
            return expired
        start, end = message.window_start, message.window_end
        if start is None or end is None:
            return None
        zone = ZoneInfo(message.timezone)
        if is_open_at(now, zone, start, end):
            return None
        opening = next_opening(now, zone, start, end)
        if opening >= message.end_at:
            return Decision(
                Kind.EXPIRED,
                message.attempts,
                None,
                "the send window does not open before the end time",
            )
        return Decision(Kind.DEFERRED, message.attempts, opening, "outside the send window")

    async def _send(self, gateway: GatewayClient, message: ClaimedMessage) -> Outcome:
        expired = self._too_late(message)  # the task may have waited for the loop
        if expired is not None:
            return Outcome(message, expired)
        error: GatewayError | None = None
        started = time.perf_counter()
        metrics.IN_FLIGHT.inc()
        try:
            delivered = await gateway.send(
                msg_id=message.id, phone=message.phone, text=message.text
            )
            status: int | None = delivered.status
        except GatewayError as exc:
            error, status = exc, exc.status
        finally:
            metrics.IN_FLIGHT.dec()
        latency = time.perf_counter() - started
        metrics.LATENCY.observe(latency)
        result = _result_label(error)
        metrics.ATTEMPTS.labels(result).inc()
        decision = decide(
            error,
            attempts=message.attempts,
            now=timezone.now(),
            end_at=message.end_at,
            policy=self.policy,
        )
        logger.info(
            "gateway attempt: %s -> %s",
            result,
            decision.kind.value,
            extra={
                "mailing_id": message.mailing_id,
                "message_id": message.id,
                "client_id": message.client_id,
                "phone": mask_phone(message.phone),
                "gateway_status": status,
                "latency_ms": round(latency * 1000, 1),
                "attempt": decision.attempts,
                "error": decision.error or None,
            },
        )
        self._note_result(result)
        return Outcome(message, decision)

    def _note_result(self, result: str) -> None:
        if result == "success":
            self._successes += 1
            self._failures_since_success = 0
            self._local_run = 0
        elif result == "transient":
            self._failures += 1
            self._failures_since_success += 1
            self._local_run += 1
        elif result == "credentials":
            self._credentials_error = True
            metrics.CREDENTIAL_ERRORS.inc()

    @property
    def _must_stop_claiming(self) -> bool:
        return self._credentials_error or self._local_run >= settings.BREAKER_FAILURE_THRESHOLD

    # --- batches ------------------------------------------------------------------------

    async def _flush(self) -> None:
        """Write the outcomes gathered so far, then fold the results into the breaker."""
        outcomes, self._outcomes = self._outcomes, []
        successes, failures = self._successes, self._failures
        trailing, credentials = self._failures_since_success, self._credentials_error
        self._successes = self._failures = 0
        if outcomes:
            await self._in_writes(services.outcomes_write, token=self.token, outcomes=outcomes)
            for outcome in outcomes:
                self.report.count(outcome.decision.kind)
                metrics.MESSAGES.labels(outcome.decision.kind.value).inc()
        if successes or failures or credentials:
            await self._in_writes(
                breaker.record,
                successes=successes,
                failures_after_last_success=trailing,
                failures=failures,
                credentials_error=credentials,
            )

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
        """Claim and start up to ``room`` messages; returns (claimed, gate still open)."""
        gate = await self._in_db(breaker.gate_pass)
        if gate.kind == breaker.GateKind.PAUSED:
            return 0, False
        limit = 1 if gate.kind == breaker.GateKind.PROBE else room
        batch = await self._in_db(services.messages_claim, limit=limit, token=self.token)
        self.report.claimed += len(batch)
        for message in batch:
            early = self._precheck(message)
            if early is not None:
                self._outcomes.append(Outcome(message, early))
                continue
            self._in_flight.add(asyncio.create_task(self._send(gateway, message)))
        return len(batch), gate.kind == breaker.GateKind.OPEN

    async def run(self) -> Report:
        deadline = time.monotonic() + self.budget
        last_flush = last_renew = last_work = time.monotonic()
        claiming = True
        async with GatewayClient(
            settings.GATEWAY_URL,
            settings.GATEWAY_TOKEN,
            timeout=settings.GATEWAY_TIMEOUT_SECONDS,
            max_in_flight=self.max_in_flight,
        ) as gateway:
            while True:
                now = time.monotonic()
                if claiming and (now >= deadline or self._must_stop_claiming):
                    claiming = False
                room = self.max_in_flight - len(self._in_flight)
                if claiming and room >= max(1, self.max_in_flight // 4):
                    claimed, gate_open = await self._claim(gateway, room)
                    if claimed:
                        last_work = now
                    if not gate_open or (not claimed and now - last_work >= self.idle):
                        claiming = False
                if not claiming and not self._in_flight:
                    break
                if self._in_flight:
                    done, _ = await asyncio.wait(
                        self._in_flight, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in done:
                        self._in_flight.discard(task)
                        self._outcomes.append(task.result())
                elif claiming:
                    await asyncio.sleep(POLL_SECONDS * 4)
                now = time.monotonic()
                if self._outcomes and (
                    len(self._outcomes) >= FLUSH_SIZE
                    or now - last_flush >= FLUSH_SECONDS
                    or self._must_stop_claiming
                    or not self._in_flight
                ):
                    self._flush_in_background()
                    last_flush = now
                if now - last_renew >= SLOT_RENEW_SECONDS:
                    await self._in_db(services.slot_renew, slot_id=self.slot_id, owner=self.owner)
                    last_renew = now
            await self._flush_all()
        return self.report

    def close(self) -> None:
        # Close each helper thread's own connection (``connection`` resolves per thread).
        for executor in (self._db, self._writes):
            executor.submit(lambda: connection.close()).result()
            executor.shutdown(wait=True)


def dispatch_run(**kwargs: Any) -> Report | None:
    """Run one dispatcher if a slot is free; the body of the ``dispatch`` task."""
    dispatcher = Dispatcher(**kwargs)
    try:
        slot_id = dispatcher._db.submit(services.slot_acquire, owner=dispatcher.owner).result()
        if slot_id is None:
            return None
        dispatcher.slot_id = slot_id
        try:
            report = asyncio.run(dispatcher.run())
        finally:
            dispatcher._db.submit(
                services.slot_release, slot_id=slot_id, owner=dispatcher.owner
            ).result()
        if report.claimed:
            logger.info(
                "dispatcher finished",
                extra={"claimed": report.claimed, "outcomes": report.outcomes, "slot": slot_id},
            )
        return report
    finally:
        dispatcher.close()
