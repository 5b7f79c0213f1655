"""One message, one try: the in-memory checks before a request, the request, and the decision
and its log line (SPEC section 6: one structured line per attempt)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from core.logging import mask_phone
from delivery.policy import Decision, Kind, RetryPolicy, decide
from gateway.client import GatewayClient, GatewayError, Result
from mailings.messages import ClaimedMessage, MessageOutcome
from mailings.window import is_open_at, next_opening

logger = logging.getLogger("delivery.dispatcher")

Done = tuple[ClaimedMessage, Decision]


def _now() -> datetime:
    """``django.utils.timezone.now()`` without its settings lookup (``USE_TZ`` is on): read
    three times per message on the dispatcher's hot path."""
    return datetime.now(UTC)


class Tried(NamedTuple):
    """What one try came to: the decision, the gateway's result (None: not sent), and the
    seconds its answer took."""

    decision: Decision
    result: Result | None
    seconds: float = 0.0


def too_late(message: ClaimedMessage, *, end_guard: timedelta) -> Decision | None:
    """A request must reach the gateway before the end time, so none starts within
    ``end_guard`` (``DELIVERY_END_GUARD_SECONDS``) of it."""
    if _now() + end_guard >= message.end_at:
        return Decision(Kind.EXPIRED, message.attempts, None, "the end time came first")
    return None


NOT_ASCII = (
    "the phone is not in ASCII digits: it equals another client's number once normalized "
    "(see the clients migration 0002 report); correct or delete one of the two"
)


def precheck(message: ClaimedMessage, *, end_guard: timedelta) -> Decision | None:
    """In-memory checks before the request: the phone, the end time, then the client's send
    window. None: send it now."""
    if not (message.phone.isascii() and message.phone.isdigit()):
        return Decision(Kind.FAILED, message.attempts, None, NOT_ASCII)
    expired = too_late(message, end_guard=end_guard)
    if expired is not None:
        return expired
    start, end = message.window_start, message.window_end
    if start is None or end is None:
        return None
    now = _now()
    zone = ZoneInfo(message.timezone)
    if is_open_at(now, zone, start, end):
        return None
    opening = next_opening(now, zone, start, end)
    if opening >= message.end_at:
        reason = "the send window does not open before the end time"
        return Decision(Kind.EXPIRED, message.attempts, None, reason)
    return Decision(Kind.DEFERRED, message.attempts, opening, "outside the send window")


async def attempt(
    gateway: GatewayClient,
    message: ClaimedMessage,
    *,
    policy: RetryPolicy,
    end_guard: timedelta,
) -> Tried:
    """Send one message: the decision, the gateway's result, the seconds it took."""
    expired = too_late(message, end_guard=end_guard)  # the task may have waited for the loop
    if expired is not None:
        return Tried(expired, None)
    error: GatewayError | None = None
    status: int | None
    started = time.perf_counter()
    try:
        delivered = await gateway.send(msg_id=message.id, phone=message.phone, text=message.text)
        result, status = delivered.kind, delivered.status
    except GatewayError as exc:
        error, result, status = exc, exc.kind, exc.status
    latency = time.perf_counter() - started
    # The counters by result, the latency histogram and the in-flight gauge are kept by the
    # dispatcher, in batches.
    now = _now()
    decision = decide(
        error, attempts=message.attempts, now=now, end_at=message.end_at, policy=policy
    )
    logger.info(
        "gateway attempt: %s -> %s",
        result.value,
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
    return Tried(decision, result, latency)


@dataclass
class Report:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    window: int = 0  # requests in flight allowed at the end (delivery.window)

    def count(self, kind: Kind, n: int = 1) -> None:
        self.outcomes[kind.value] = self.outcomes.get(kind.value, 0) + n


def outcome_of(done: Done) -> MessageOutcome:
    message, decision = done
    return MessageOutcome(
        message_id=message.id,
        status=decision.kind.status,
        attempts=decision.attempts,
        next_attempt_at=decision.next_attempt_at,
        error=decision.error,
    )
