from __future__ import annotations

from typing import Any

from django.db import models


class Circuit(models.TextChoices):
    CLOSED = "closed"  # sending freely
    OPEN = "open"  # paused until paused_until, then one probe
    HALF_OPEN = "half_open"  # one probe in flight; the others wait


class GatewayState(models.Model):
    """The one row every dispatcher shares: circuit breaker and credentials pause."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    circuit = models.CharField(max_length=16, choices=Circuit.choices, default=Circuit.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    paused_until = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=32, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Gateway circuit {self.circuit}"


class SchedulerState(models.Model):
    """One row: when the scheduler last ticked, and since when it has ticked without a gap.

    After a gap (the database or beat was gone), nobody's lease counts as lapsed until the
    scheduler has ticked for ``RECOVERY_GRACE_SECONDS`` again: a dispatcher that lived
    through a database outage has had time to renew its leases by then.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_tick_at = models.DateTimeField(null=True, blank=True)
    ticking_since = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Scheduler ticking since {self.ticking_since}"


class DispatchSlot(models.Model):
    """At most DISPATCH_SLOTS dispatchers run at once; each holds a slot under a lease, so a
    killed worker's slot frees itself."""

    id = models.PositiveSmallIntegerField(primary_key=True)
    owner = models.CharField(max_length=64, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Dispatch slot {self.pk}"


class RateBucket(models.Model):
    """A token bucket of the gateway's rate, when the broker is not Redis (delivery.ratelimit).
    Times are Unix seconds, as the buckets in Redis keep them."""

    key = models.CharField(max_length=64, primary_key=True)
    tokens = models.FloatField()
    stamp = models.FloatField()
    rate = models.FloatField()
    rate_stamp = models.FloatField()
    decreased_at = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"Rate bucket {self.key}"

    def state(self) -> Any:
        from delivery.ratelimit import State

        return State(self.tokens, self.stamp, self.rate, self.rate_stamp, self.decreased_at)

    @staticmethod
    def fields_of(state: Any) -> dict[str, float]:
        return {
            "tokens": state.tokens,
            "stamp": state.stamp,
            "rate": state.rate,
            "rate_stamp": state.rate_stamp,
            "decreased_at": state.decreased_at,
        }
