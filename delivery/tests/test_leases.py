"""Leases after a gap in the scheduler: nothing a live dispatcher holds is handed out again
before it has had the chance to renew it (SPEC 8.2)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from delivery import services, tasks
from delivery.models import DispatchSlot, SchedulerState
from mailings import messages
from mailings.models import MailingStatus, Message, MessageStatus
from mailings.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db

GRACE = 15.0


@pytest.fixture(autouse=True)
def _grace(settings: Any) -> None:
    settings.RECOVERY_GRACE_SECONDS = GRACE
    settings.DISPATCH_SLOTS = 1


BASE = timezone.now()


def tick_at(seconds: float) -> bool:
    return services.scheduler_record_tick(now=BASE + timedelta(seconds=seconds))


def test_leases_lapse_only_after_the_scheduler_ticked_the_grace_period_without_a_gap() -> None:
    assert tick_at(0) is False  # the first tick ever: a gap
    for second in range(1, 15):
        assert tick_at(second) is False
    assert tick_at(15) is True
    assert tick_at(16) is True

    assert tick_at(46) is False  # 30 s without a tick: the database (or beat) was gone
    for second in range(47, 61):
        assert tick_at(second) is False
    assert tick_at(61) is True
    state = SchedulerState.objects.get()
    assert (state.ticking_since, state.last_tick_at) == (
        BASE + timedelta(seconds=46),
        BASE + timedelta(seconds=61),
    )


def test_a_tick_after_an_outage_leaves_the_lapsed_leases_of_a_live_dispatcher_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks.dispatch, "delay", lambda: None)
    now = timezone.now()
    SchedulerState.objects.create(
        pk=1, last_tick_at=now - timedelta(seconds=60), ticking_since=now - timedelta(hours=1)
    )
    held = MessageFactory.create(
        status=MessageStatus.SENDING,
        lease_token=uuid.uuid4(),
        lease_expires_at=now - timedelta(seconds=30),
        mailing__status=MailingStatus.RUNNING,
    )

    tasks.tick()

    held.refresh_from_db()
    assert held.status == MessageStatus.SENDING


def test_a_lapsed_lease_is_recovered_once_the_scheduler_ticked_steadily(
    steady_scheduler: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks.dispatch, "delay", lambda: None)
    held = MessageFactory.create(
        status=MessageStatus.SENDING,
        lease_token=uuid.uuid4(),
        lease_expires_at=timezone.now() - timedelta(seconds=1),
        mailing__status=MailingStatus.RUNNING,
    )

    tasks.tick()

    held.refresh_from_db()
    assert (held.status, held.attempts) == (MessageStatus.PENDING, 1)


def test_renewing_a_slot_renews_the_leases_of_the_messages_its_dispatcher_holds() -> None:
    token, other = uuid.uuid4(), uuid.uuid4()
    past = timezone.now() - timedelta(seconds=5)
    mine = MessageFactory.create(
        status=MessageStatus.SENDING, lease_token=token, lease_expires_at=past
    )
    theirs = MessageFactory.create(
        status=MessageStatus.SENDING, lease_token=other, lease_expires_at=past
    )
    slot = services.slot_acquire(owner="me")
    assert slot == 1

    assert services.slot_renew(slot_id=slot, owner="me", token=token) is True

    renewed = Message.objects.get(pk=mine.pk).lease_expires_at
    assert renewed is not None and renewed > timezone.now()
    assert Message.objects.get(pk=theirs.pk).lease_expires_at == past
    assert services.slot_renew(slot_id=slot, owner="someone else", token=token) is False


def test_a_lapsed_slot_is_not_taken_over_until_leases_may_lapse() -> None:
    DispatchSlot.objects.create(
        id=1, owner="survivor", lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert services.slot_acquire(owner="newcomer") is None  # no steady scheduler yet

    now = timezone.now()
    SchedulerState.objects.create(
        pk=1, last_tick_at=now, ticking_since=now - timedelta(seconds=GRACE + 1)
    )
    assert services.slot_acquire(owner="newcomer") == 1
    assert DispatchSlot.objects.get(id=1).owner == "newcomer"


def test_messages_recover_lapsed_takes_only_lapsed_leases() -> None:
    now = timezone.now()
    lapsed = MessageFactory.create(
        status=MessageStatus.SENDING, lease_expires_at=now - timedelta(seconds=1)
    )
    live = MessageFactory.create(
        status=MessageStatus.SENDING, lease_expires_at=now + timedelta(seconds=10)
    )

    assert messages.messages_recover_lapsed(now=now) == 1

    assert Message.objects.get(pk=lapsed.pk).status == MessageStatus.PENDING
    assert Message.objects.get(pk=live.pk).status == MessageStatus.SENDING
