"""Pause, auto-pause, the shared rate and priorities, with the dispatcher in this process
against the emulator on a socket (SPEC 8.5)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from clients.tests.factories import ClientFactory
from delivery.dispatcher import dispatch_run
from delivery.tests.test_dispatcher import run_until_settled, statuses
from emulator.thread import EmulatorThread
from mailings import services
from mailings.models import Mailing, MailingStatus, Message, MessageStatus
from mailings.tests.factories import MailingFactory

pytestmark = pytest.mark.django_db(transaction=True)


def launched(tag: str, n: int, **fields: Any) -> Mailing:
    offset = {"low": 1, "high": 2, "x": 3}.get(tag, 4) * 100_000
    for i in range(n):
        ClientFactory.create(phone=f"79{offset + i:09d}", tag=tag)
    now = timezone.now()
    mailing = MailingFactory.create(
        text=f"to {tag}",
        filter_tag=tag,
        start_at=now - timedelta(seconds=1),
        end_at=now + timedelta(hours=1),
        **fields,
    )
    assert services.mailing_launch(mailing_id=mailing.pk)
    return mailing


def test_a_paused_mailing_sends_nothing_and_resumes_exactly_its_pending_messages(
    emulator: EmulatorThread,
) -> None:
    mailing = launched("x", 30)
    services.mailing_pause(mailing=mailing)

    dispatch_run()
    assert emulator.stats.as_dict()["requests"] == 0
    assert statuses(mailing) == {"pending": 30}

    services.mailing_resume(mailing=mailing)
    run_until_settled(mailing)
    stats = emulator.stats.as_dict()
    assert (stats["delivered"], stats["duplicates"]) == (30, 0)
    assert Mailing.objects.get(pk=mailing.pk).paused_reason == ""


def test_a_mailing_whose_first_outcomes_mostly_fail_pauses_itself(
    emulator: EmulatorThread, settings: Any
) -> None:
    settings.AUTO_PAUSE_MIN_OUTCOMES = 20
    settings.DISPATCH_MAX_IN_FLIGHT = 10
    emulator.faults.update({"reject_rate": 1.0})
    mailing = launched("x", 200)

    for _ in range(10):
        dispatch_run(max_in_flight=10)

    mailing.refresh_from_db()
    assert mailing.status == MailingStatus.PAUSED
    assert mailing.paused_reason.startswith("auto: ")
    assert "outcomes failed; commonest error (" in mailing.paused_reason
    assert "400" in mailing.paused_reason
    counts = Counter(Message.objects.filter(mailing=mailing).values_list("status", flat=True))
    assert counts[MessageStatus.PENDING] >= 150  # the rest of the list was not burnt


def test_the_gateway_rate_is_shared_and_never_exceeded(
    emulator: EmulatorThread, settings: Any
) -> None:
    settings.GATEWAY_RATE = 50
    settings.GATEWAY_BURST = 10
    mailing = launched("x", 120)

    run_until_settled(mailing)

    arrivals = sorted(d.at for d in emulator.stats.deliveries)
    assert len(arrivals) == 120
    for i, first in enumerate(arrivals):  # any one-second window: at most rate + burst
        in_window = sum(1 for t in arrivals[i:] if t < first + 1.0)
        assert in_window <= 50 + 10, (first, in_window)


def test_under_a_limit_a_later_high_priority_mailing_finishes_first(
    emulator: EmulatorThread, settings: Any
) -> None:
    settings.GATEWAY_RATE = 100
    low = launched("low", 300, priority="low")
    high = launched("high", 30, priority="high")

    run_until_settled(low)
    run_until_settled(high)

    last = {
        text: max(d.at for d in emulator.stats.deliveries if d.text == text)
        for text in ("to low", "to high")
    }
    assert last["to high"] < last["to low"]
    first_low = min(d.at for d in emulator.stats.deliveries if d.text == "to low")
    assert last["to high"] - first_low < 1.5  # high went out within the first batches


def test_a_mailings_own_max_rate_holds_beside_the_gateway_rate(
    emulator: EmulatorThread, settings: Any
) -> None:
    settings.GATEWAY_RATE = 1000
    mailing = launched("x", 40, max_rate=20)

    run_until_settled(mailing)

    arrivals = sorted(d.at for d in emulator.stats.deliveries)
    assert len(arrivals) == 40
    for i, first in enumerate(arrivals):
        assert sum(1 for t in arrivals[i:] if t < first + 1.0) <= 20 + 20


def test_auto_pause_names_the_mailings_weighed_for_good_so_they_are_not_asked_again(
    settings: Any,
) -> None:
    settings.AUTO_PAUSE_MIN_OUTCOMES = 5
    fine, early, failing = (launched(tag, 6) for tag in ("x", "low", "high"))
    Message.objects.filter(mailing=fine).update(status=MessageStatus.SENT)
    Message.objects.filter(mailing=early, id__in=Message.objects.filter(mailing=early)[:2]).update(
        status=MessageStatus.SENT
    )
    Message.objects.filter(mailing=failing).update(status=MessageStatus.FAILED)
    ids = {fine.pk, early.pk, failing.pk}

    assert services.mailings_auto_pause(mailing_ids=ids) == {fine.pk, failing.pk}
    assert Mailing.objects.get(pk=failing.pk).status == MailingStatus.PAUSED
    assert Mailing.objects.get(pk=early.pk).status == MailingStatus.RUNNING  # 2 of 5: not yet
    # Weighed before stays weighed: a later call names it again, paused or not.
    assert services.mailings_auto_pause(mailing_ids={fine.pk, failing.pk}) == {fine.pk, failing.pk}
