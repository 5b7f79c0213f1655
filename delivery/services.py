"""Dispatch slots: at most ``DISPATCH_SLOTS`` dispatchers run at once, over all workers.

Each dispatcher holds a slot under a lease that it renews while it runs, so a killed worker's
slot frees itself. Messages' own states are written by ``mailings.messages``.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from delivery.models import DispatchSlot


def slot_acquire(*, owner: str) -> int | None:
    """Take a free dispatch slot (or one whose holder's lease lapsed)."""
    now = timezone.now()
    slots = settings.DISPATCH_SLOTS
    DispatchSlot.objects.bulk_create(
        [DispatchSlot(id=n) for n in range(1, slots + 1)], ignore_conflicts=True
    )
    lease_until = now + timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)
    for slot_id in range(1, slots + 1):
        won = (
            DispatchSlot.objects.filter(id=slot_id)
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
            .update(owner=owner, lease_expires_at=lease_until)
        )
        if won:
            return slot_id
    return None


def slot_renew(*, slot_id: int, owner: str) -> bool:
    lease_until = timezone.now() + timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)
    return bool(
        DispatchSlot.objects.filter(id=slot_id, owner=owner).update(lease_expires_at=lease_until)
    )


def slot_release(*, slot_id: int, owner: str) -> None:
    DispatchSlot.objects.filter(id=slot_id, owner=owner).update(owner="", lease_expires_at=None)


def slot_available() -> bool:
    """Is a dispatch slot free now? (Reads only; ``slot_acquire`` takes one.)"""
    now = timezone.now()
    taken = DispatchSlot.objects.filter(lease_expires_at__gt=now).count()
    return taken < settings.DISPATCH_SLOTS
