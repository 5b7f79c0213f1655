"""The circuit breaker and the credentials pause, shared by every dispatcher through one row.

1. Closed: dispatchers send freely. Each flush of outcomes reports the transient failures
   since the last success; ``BREAKER_FAILURE_THRESHOLD`` in a row open the circuit.
2. Open: nobody sends until ``paused_until`` (``BREAKER_RESET_SECONDS`` later). Paused
   messages stay pending and spend no attempts.
3. Then exactly one dispatcher wins a conditional update to half-open and sends one probe:
   success closes the circuit, a transient failure opens it again.
A 401/403 opens it too, for ``CREDENTIALS_PAUSE_SECONDS``, with reason ``credentials``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from delivery.models import Circuit, GatewayState

logger = logging.getLogger(__name__)


class GateKind(StrEnum):
    OPEN = "open"  # send freely (the circuit is closed)
    PROBE = "probe"  # send exactly one message
    PAUSED = "paused"  # send nothing


@dataclass(frozen=True, slots=True)
class Gate:
    kind: GateKind
    until: datetime | None = None


def gateway_state() -> GatewayState:
    """The shared row, created on first use."""
    state, _ = GatewayState.objects.get_or_create(pk=1)
    return state


def sending_paused(*, now: datetime | None = None) -> bool:
    """True while the circuit is open or probing and its pause has not run out."""
    now = now or timezone.now()
    state = gateway_state()
    return state.circuit != Circuit.CLOSED and bool(state.paused_until and state.paused_until > now)


def gate_pass(*, now: datetime | None = None) -> Gate:
    """May this dispatcher send now, and how much?"""
    now = now or timezone.now()
    state = gateway_state()
    if state.circuit == Circuit.CLOSED:
        return Gate(GateKind.OPEN)
    if state.paused_until is not None and state.paused_until > now:
        return Gate(GateKind.PAUSED, state.paused_until)
    probe_deadline = now + timedelta(seconds=settings.GATEWAY_TIMEOUT_SECONDS + 5)
    won = (
        GatewayState.objects.filter(pk=1, circuit__in=[Circuit.OPEN, Circuit.HALF_OPEN])
        .filter(Q(paused_until__isnull=True) | Q(paused_until__lte=now))
        .update(circuit=Circuit.HALF_OPEN, paused_until=probe_deadline)
    )
    if won:
        logger.info("circuit half-open: probing the gateway")
        return Gate(GateKind.PROBE)
    return Gate(GateKind.PAUSED, probe_deadline)


def _open(state: GatewayState, *, now: datetime, seconds: float, reason: str) -> None:
    state.circuit = Circuit.OPEN
    state.paused_until = now + timedelta(seconds=seconds)
    state.pause_reason = reason


def record(
    *,
    successes: int,
    failures_after_last_success: int,
    failures: int,
    credentials_error: bool,
    now: datetime | None = None,
) -> None:
    """Fold a flush's results into the shared state (one locked read-modify-write)."""
    if not (successes or failures or credentials_error):
        return
    now = now or timezone.now()
    with transaction.atomic():
        state, _ = GatewayState.objects.select_for_update().get_or_create(pk=1)
        before = state.circuit
        if successes:
            state.consecutive_failures = failures_after_last_success
        else:
            state.consecutive_failures += failures
        if credentials_error:
            _open(state, now=now, seconds=settings.CREDENTIALS_PAUSE_SECONDS, reason="credentials")
        elif state.circuit == Circuit.HALF_OPEN and failures and not successes:
            _open(state, now=now, seconds=settings.BREAKER_RESET_SECONDS, reason="circuit")
        elif state.consecutive_failures >= settings.BREAKER_FAILURE_THRESHOLD:
            if state.circuit != Circuit.OPEN:
                _open(state, now=now, seconds=settings.BREAKER_RESET_SECONDS, reason="circuit")
        elif successes and state.circuit != Circuit.CLOSED:
            state.circuit = Circuit.CLOSED
            state.paused_until = None
            state.pause_reason = ""
        state.save()
    if state.circuit != before:
        log = logger.error if state.pause_reason == "credentials" else logger.warning
        log(
            "gateway circuit %s -> %s",
            before,
            state.circuit,
            extra={
                "reason": state.pause_reason,
                "paused_until": state.paused_until,
                "consecutive_failures": state.consecutive_failures,
            },
        )
