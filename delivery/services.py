"""Dispatch slots and the scheduler's clock of leases.

At most ``DISPATCH_SLOTS`` dispatchers run at once, over all workers. Each holds a slot under
a lease and renews it, with the leases of the messages it holds, while it runs
(``slot_renew``), so a killed worker's slot and messages free themselves.

A lease counts as lapsed only while the scheduler has ticked without a gap for
``RECOVERY_GRACE_SECONDS`` (``scheduler_record_tick``): after a database outage every lease
looks old, and a dispatcher that lived through it must first get the chance to renew its
own. So nothing a live dispatcher holds is handed out again after an outage (SPEC 8.2).
Messages' own states are written by ``mailings.messages``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from delivery.models import DispatchSlot, SchedulerState
from mailings.messages import messages_renew_leases

# Ticks further apart than this mean the scheduler (or its database) was gone.
TICK_GAP_SECONDS = 5.0


def scheduler_record_tick(*, now: datetime | None = None) -> bool:
    """Note a tick; returns whether leases may be taken as lapsed now (no gap for
    ``RECOVERY_GRACE_SECONDS``)."""
    now = now or timezone.now()
    with transaction.atomic():
        state, _ = SchedulerState.objects.select_for_update().get_or_create(pk=1)
        gap = state.last_tick_at is None or (now - state.last_tick_at).total_seconds() > max(
            TICK_GAP_SECONDS, 5 * settings.SCHEDULER_TICK_SECONDS
        )
        if gap or state.ticking_since is None:
            state.ticking_since = now
        state.last_tick_at = now
        state.save()
    return _leases_may_lapse(state, now)


def _leases_may_lapse(state: SchedulerState | None, now: datetime) -> bool:
    if state is None or state.ticking_since is None or state.last_tick_at is None:
        return False
    recent = (now - state.last_tick_at).total_seconds() <= TICK_GAP_SECONDS
    grace = (now - state.ticking_since).total_seconds() >= settings.RECOVERY_GRACE_SECONDS
    return recent and grace


def leases_may_lapse(*, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return _leases_may_lapse(SchedulerState.objects.filter(pk=1).first(), now)


def slot_acquire(*, owner: str) -> int | None:
    """Take a free dispatch slot (or one whose holder's lease lapsed)."""
    now = timezone.now()
    slots = settings.DISPATCH_SLOTS
    DispatchSlot.objects.bulk_create(
        [DispatchSlot(id=n) for n in range(1, slots + 1)], ignore_conflicts=True
    )
    free = Q(lease_expires_at__isnull=True)
    if leases_may_lapse(now=now):
        free |= Q(lease_expires_at__lte=now)
    lease_until = now + timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)
    for slot_id in range(1, slots + 1):
        won = DispatchSlot.objects.filter(free, id=slot_id).update(
            owner=owner, lease_expires_at=lease_until
        )
        if won:
            return slot_id
    return None


def slot_renew(*, slot_id: int, owner: str, token: uuid.UUID) -> bool:
    """Renew the slot's lease and those of the messages this dispatcher holds; False when
    the slot is no longer ours."""
    lease_until = timezone.now() + timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)
    with transaction.atomic():
        ours = DispatchSlot.objects.filter(id=slot_id, owner=owner).update(
            lease_expires_at=lease_until
        )
        messages_renew_leases(token=token, until=lease_until)
    return bool(ours)


def slot_release(*, slot_id: int, owner: str) -> None:
    DispatchSlot.objects.filter(id=slot_id, owner=owner).update(owner="", lease_expires_at=None)


def slots_free() -> int:
    """How many dispatch slots are free now (reads only; ``slot_acquire`` takes one)."""
    now = timezone.now()
    taken = DispatchSlot.objects.filter(lease_expires_at__gt=now).count()
    return max(settings.DISPATCH_SLOTS - taken, 0)
