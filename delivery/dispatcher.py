"""The dispatcher: claims due messages and sends them through the gateway concurrently.

One dispatcher runs inside one ``delivery.tasks.dispatch`` task, holding one of the
``DISPATCH_SLOTS`` slots, for at most ``DISPATCH_TASK_SECONDS``:

1. Take a permit from the shared breaker (``breaker.permit_take``): all, one probe, none.
2. Claim due messages when a third of the room is free (``DISPATCH_MAX_IN_FLIGHT`` plus
   half the window held at once, or two seconds of the rate; few large claims cost the
   database thread less than many small ones): the last database check (mailing running,
   before its end). Then,
   in memory (``attempt.precheck``): the end time, and the client's send window (else
   deferred).
3. Once the rate limit allows its segments (``pacing.Pacer``) and the window has room
   (``window.Window``: as few requests in flight as keep the sending going), send each one
   as its own asyncio task over one aiohttp session. No transaction is open while requests
   are in flight: the database runs in two helper threads (claims; writes).
4. As requests finish, the retry policy decides each message's next state; the outcomes
   are written in bulk every ``FLUSH_SECONDS`` or ``FLUSH_SIZE`` outcomes, in the
   background, then the breaker's tally is recorded. The tally stops new claims at once on
   a run of transient failures or a credentials error.
5. Stop claiming when the time budget ends, the permit is withdrawn, or no work has been
   due for ``DISPATCH_IDLE_SECONDS``; wait for the requests in flight, write their
   outcomes, release the slot. A mailing whose early outcomes mostly failed pauses itself.
6. Without the database: stop claiming, keep the outcomes and the tally in memory, retry
   every ``RETRY_SECONDS``, renew the leases once it is back; never end holding unwritten
   outcomes (for at most ``HOLD_SECONDS``): what was sent is recorded once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import resource
import time
import uuid
from collections import Counter, deque
from datetime import timedelta
from typing import Any

import uvloop
from django.conf import settings
from django.utils import timezone

from core.database import OutageLog
from delivery import breaker, metrics, services
from delivery.attempt import Done, Report, Tried, attempt, outcome_of, precheck
from delivery.dbthreads import DatabaseDown, DatabaseThreads
from delivery.pacing import Pacer
from delivery.policy import Decision, Kind, RetryPolicy
from delivery.window import Window
from gateway.client import GatewayClient, Result
from mailings.messages import (
    ClaimedMessage,
    messages_claim,
    messages_record_outcomes,
)
from mailings.services import mailings_auto_pause

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
FLUSH_SIZE = 1000
POLL_SECONDS = 0.05
SLOT_RENEW_SECONDS = 5.0
RETRY_SECONDS = 1.0  # while the database is gone
HOLD_SECONDS = 900.0  # the longest a dispatcher waits for the database to write what it holds
RELEASED_UNSTARTED = "not started: the gateway kept failing"
# Open files a worker process needs besides the gateway's connections (database, broker,
# logs, Celery's pipes), kept free when the connections are counted against the limit.
SPARE_FILES = 256


@functools.cache  # the limit is the process's: raised (or said) once
def connections_allowed(wanted: int) -> int:
    """How many gateway connections this process can open, up to ``wanted``.

    Each request in flight holds a socket. The soft limit on open files is raised as far as
    the hard one allows (many systems start processes at 1,024, under the 1,000-request
    default of one dispatcher); when even that is short, the dispatcher keeps fewer requests
    in flight and says so, rather than failing its requests with "too many open files".
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + SPARE_FILES
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        if raised > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    allowed = max(1, soft - SPARE_FILES)
    logger.warning(
        "open-file limit too low for DISPATCH_MAX_IN_FLIGHT: fewer requests in flight",
        extra={"wanted": wanted, "allowed": allowed, "open_files_limit": soft},
    )
    return allowed


class Dispatcher:
    def __init__(
        self,
        *,
        policy: RetryPolicy | None = None,
        max_in_flight: int | None = None,
        budget_seconds: float | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy.from_settings()
        self.max_in_flight = connections_allowed(max_in_flight or settings.DISPATCH_MAX_IN_FLIGHT)
        self.budget = budget_seconds or settings.DISPATCH_TASK_SECONDS
        self.idle = settings.DISPATCH_IDLE_SECONDS
        self.end_guard = timedelta(seconds=settings.DELIVERY_END_GUARD_SECONDS)
        self.token = uuid.uuid4()
        self.owner = f"{os.getpid()}:{self.token.hex[:12]}"
        self.report = Report()
        self.tally = breaker.Tally()
        self._in_flight: set[asyncio.Task[Tried]] = set()
        self._ready: deque[ClaimedMessage] = deque()  # cleared by the pacer, waiting for room
        self.window = Window(self.max_in_flight)
        # Each request's message, and the window's size when it started.
        self._messages: dict[asyncio.Task[Any], tuple[ClaimedMessage, int]] = {}
        # Requests finish into this list (a done callback); ``_collect`` wakes on the first.
        self._finished: list[asyncio.Task[Tried]] = []
        self._wakeup: asyncio.Future[None] | None = None
        self._results: Counter[Result] = Counter()  # metrics counted here, written per flush
        self._latencies = metrics.Latencies(metrics.LATENCY)
        self._done: list[Done] = []
        self._flushing: asyncio.Task[None] | None = None
        self.db = DatabaseThreads()
        self.pacer = Pacer(self.db)
        self._rate_limited = False
        self._failed_unweighed = False  # a permanent failure not yet weighed for auto-pause
        self._weighed: set[int] = set()  # mailings whose early outcomes were weighed for good
        self.outage = OutageLog("dispatcher")
        self._write_after = 0.0  # monotonic time before which no write is retried
        self._renew_due = False  # renew the leases as soon as the database is back

    # --- batches ------------------------------------------------------------------------

    async def _flush(self) -> None:
        """Write the outcomes gathered so far, then record the breaker's tally; without a
        database, keep both for the next try."""
        done, self._done = self._done, []
        tally = self.tally.take()
        self._write_metrics()
        try:
            if done:
                outcomes = [outcome_of(item) for item in done]
                await self.db.write(messages_record_outcomes, token=self.token, outcomes=outcomes)
                kinds = Counter(decision.kind for _, decision in done)
                for kind, count in kinds.items():
                    self.report.count(kind, count)
                    metrics.MESSAGES.labels(kind.value).inc(count)
                unweighed = {message.mailing_id for message, _ in done} - self._weighed
                done = []
                if unweighed:
                    self._weighed |= await self.db.write(mailings_auto_pause, mailing_ids=unweighed)
            if tally.has_news:
                await self.db.write(breaker.record, tally=tally)
        except DatabaseDown as exc:
            self.outage.down(exc)
            self._done[:0] = done
            self.tally.give_back(tally)
            self._write_after = time.monotonic() + RETRY_SECONDS
            self._renew_due = True
        else:
            self.outage.up()

    def _write_metrics(self) -> None:
        """The requests' counters by result and their latencies, and this process's requests
        in flight."""
        self._latencies.write()
        for result, count in self._results.items():
            metrics.ATTEMPTS.labels(result.value).inc(count)
            if result is Result.CREDENTIALS:
                metrics.CREDENTIAL_ERRORS.inc(count)
        self._results.clear()
        metrics.IN_FLIGHT.set(len(self._in_flight))

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
        if self._failed_unweighed:  # weigh the failures (auto-pause) before claiming more
            self._failed_unweighed = False
            await self._flush_all()
        try:
            permit = await self.db.claim(breaker.permit_take)
            if permit is breaker.Permit.WAIT:
                return 0, False
            limit = 1 if permit is breaker.Permit.PROBE else room
            batch = await self.db.claim(messages_claim, limit=limit, token=self.token)
        except DatabaseDown as exc:
            self.outage.down(exc)
            return 0, False
        self.report.claimed += len(batch)
        for message in batch:
            early = precheck(message, end_guard=self.end_guard)
            if early is not None:
                self._done.append((message, early))
            else:
                self.pacer.add([message])
        await self._start_ready(gateway)
        return len(batch), permit is breaker.Permit.SEND

    async def _start_ready(self, gateway: GatewayClient) -> None:
        """Start the requests whose segments the rate limit allows now, as the window has
        room for them."""
        if self.pacer.waiting:
            try:
                self._ready.extend(await self.pacer.release())
            except DatabaseDown as exc:
                self.outage.down(exc)
        for _ in range(self.window.room(len(self._in_flight), len(self._ready))):
            message = self._ready.popleft()
            task = asyncio.create_task(
                attempt(gateway, message, policy=self.policy, end_guard=self.end_guard)
            )
            task.add_done_callback(self._on_finished)
            self._in_flight.add(task)
            self._messages[task] = (message, self.window.size)

    def _release_unstarted(self) -> None:
        """The gateway keeps failing (or refused our credentials): the claimed messages that
        have not started — ready, or still waiting for the rate limit — go back to pending,
        due now, without spending an attempt (the breaker keeps everyone from claiming them
        until it allows); the rate's tokens taken for them are given back."""
        now = timezone.now()
        unstarted = self.pacer.take_back(self._ready)
        self._ready.clear()
        for message in unstarted:
            decision = Decision(Kind.RELEASED, message.attempts, now, RELEASED_UNSTARTED)
            self._done.append((message, decision))

    def _on_finished(self, task: asyncio.Task[Tried]) -> None:
        self._finished.append(task)
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _collect(self) -> None:
        """Wait a little (``POLL_SECONDS`` at most) for requests to finish; note their
        decisions and results. Costs what finished, not what is in flight."""
        if not self._finished:
            loop = asyncio.get_running_loop()
            self._wakeup = wakeup = loop.create_future()
            timer = loop.call_later(POLL_SECONDS, _resolve, wakeup)
            try:
                await wakeup
            finally:
                timer.cancel()
                self._wakeup = None
        finished, self._finished = self._finished, []
        for task in finished:
            self._in_flight.discard(task)
            decision, result, seconds = task.result()
            message, size = self._messages.pop(task)
            self._done.append((message, decision))
            if result is not None:
                self.window.answered(seconds, size=size)
                self._latencies.note(seconds)
                self._results[result] += 1
                self.tally.note(result)
                self._rate_limited |= result is Result.RATE_LIMITED
                self._failed_unweighed |= result is Result.PERMANENT

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
            while (
                claiming
                or self._in_flight
                or self._ready
                or self.pacer.waiting
                or self._holding(deadline)
            ):
                now = time.monotonic()
                if claiming and (now >= deadline or self.tally.must_stop_claiming):
                    claiming = False
                if (self._ready or self.pacer.waiting) and self.tally.must_stop_claiming:
                    self._release_unstarted()
                self.window.step()
                if self.pacer.waiting or self._ready:
                    await self._start_ready(gateway)
                ceiling = self.pacer.ceiling(self.max_in_flight + self.window.size // 2)
                held = len(self._in_flight) + len(self._ready) + len(self.pacer.waiting)
                room = ceiling - held
                if claiming and room >= max(1, ceiling // 3):
                    claimed, may_claim = await self._claim(gateway, room)
                    last_work = now if claimed else last_work
                    claiming = may_claim and (claimed > 0 or now - last_work < self.idle)
                if self._rate_limited:
                    self._rate_limited = False
                    with contextlib.suppress(DatabaseDown):
                        await self.pacer.slow_down()
                if self._in_flight:
                    await self._collect()
                elif claiming or self.pacer.waiting:
                    await asyncio.sleep(POLL_SECONDS * 4)
                elif self._flushing is not None and not self._flushing.done():
                    # Let the last write finish: without an await here the loop spun, never
                    # yielding to it, until the next slot renewal (up to 5 s of a full core).
                    await asyncio.wait({self._flushing}, timeout=POLL_SECONDS)
                elif self._done:
                    await asyncio.sleep(POLL_SECONDS)  # waiting for the database
                now = time.monotonic()
                if (
                    (self._done or self.tally.has_news)
                    and now >= self._write_after
                    and (
                        len(self._done) >= FLUSH_SIZE
                        or now - last_flush >= FLUSH_SECONDS
                        or self.tally.must_stop_claiming
                        or not self._in_flight
                    )
                ):
                    self._flush_in_background()
                    last_flush = now
                if now - last_renew >= SLOT_RENEW_SECONDS or (
                    self._renew_due and not self.outage.is_down
                ):
                    claiming = await self._renew(slot_id) and claiming
                    last_renew = now
            await self._flush_all()
            with contextlib.suppress(DatabaseDown):
                await self.pacer.give_back()
        self.report.window = self.window.size
        return self.report

    def _holding(self, deadline: float) -> bool:
        """Outcomes not yet written keep the dispatcher alive, for at most ``HOLD_SECONDS``
        past its budget; then it gives up on them (they will be sent again: logged)."""
        if not (self._done or (self._flushing is not None and not self._flushing.done())):
            return False
        if time.monotonic() < deadline + HOLD_SECONDS:
            return True
        logger.error(
            "dispatcher gives up waiting for the database",
            extra={"unwritten_outcomes": len(self._done)},
        )
        return False

    async def _renew(self, slot_id: int) -> bool:
        """Renew the slot's and the held messages' leases; False when the slot is lost."""
        try:
            ours = await self.db.claim(
                services.slot_renew,
                slot_id=slot_id,
                owner=self.owner,
                token=self.token,
            )
        except DatabaseDown as exc:
            self.outage.down(exc)
            return True
        self._renew_due = False
        if not ours:
            logger.warning("dispatcher lost its slot; it stops claiming", extra={"slot": slot_id})
        return ours

    def acquire_slot(self) -> int | None:
        return self.db.claim_now(services.slot_acquire, owner=self.owner)

    def release_slot(self, slot_id: int) -> None:
        self.db.claim_now(services.slot_release, slot_id=slot_id, owner=self.owner)

    def close(self) -> None:
        self.db.close()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def dispatch_run(**kwargs: Any) -> Report | None:
    """Run one dispatcher if a slot is free; the body of the ``dispatch`` task."""
    dispatcher = Dispatcher(**kwargs)
    try:
        try:
            slot_id = dispatcher.acquire_slot()
        except DatabaseDown as exc:
            dispatcher.outage.down(exc)
            return None
        if slot_id is None:
            return None
        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                report = runner.run(dispatcher.run(slot_id=slot_id))
        finally:
            with contextlib.suppress(DatabaseDown):  # its lease lapses by itself
                dispatcher.release_slot(slot_id)
        if report.claimed:
            logger.info(
                "dispatcher finished",
                extra={
                    "claimed": report.claimed,
                    "outcomes": report.outcomes,
                    "in_flight_window": report.window,
                    "slot": slot_id,
                },
            )
        return report
    finally:
        dispatcher.close()
