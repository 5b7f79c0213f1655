"""The message counters stay exact through inserts, status changes, deletes and compaction."""

from __future__ import annotations

import random

import pytest
from django.db.models import Count

from mailings import counters, selectors
from mailings.models import Message, MessageCount, MessageCountDelta, MessageStatus
from mailings.tests.factories import MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db


def truth() -> dict[tuple[int, str], int]:
    rows = Message.objects.order_by().values_list("mailing_id", "status").annotate(n=Count("id"))
    return {(m, s): n for m, s, n in rows}


def counted() -> dict[tuple[int, str], int]:
    ids = list(Message.objects.values_list("mailing_id", flat=True).distinct())
    return {(m, s): n for m, s, n in counters.counts_by_mailing(ids) if n}


def test_counts_follow_every_change_and_survive_compaction() -> None:
    rng = random.Random(7)
    mailings = [MailingFactory.create() for _ in range(3)]
    for mailing in mailings:
        MessageFactory.create_batch(20, mailing=mailing)
    statuses = MessageStatus.values

    for round_ in range(6):
        ids = list(Message.objects.values_list("id", flat=True))
        for status in statuses:
            chosen = rng.sample(ids, 8)
            Message.objects.filter(id__in=chosen).update(status=status)  # bulk, mixed sources
        Message.objects.filter(id__in=rng.sample(ids, 2)).delete()
        if round_ % 2:
            counters.counts_compact()
        assert counted() == truth()

    counters.counts_compact()
    assert MessageCountDelta.objects.count() == 0
    assert counted() == truth()


def test_overall_counts_leave_out_deleted_mailings() -> None:
    kept = MailingFactory.create()
    gone = MailingFactory.create()
    MessageFactory.create_batch(3, mailing=kept, status=MessageStatus.SENT)
    MessageFactory.create_batch(2, mailing=gone, status=MessageStatus.SENT)
    counters.counts_compact()

    from mailings import services

    services.mailing_delete(mailing=gone)
    counters.counts_compact()

    assert dict(counters.counts_overall()) == {"sent": 3}
    assert selectors.statistics_overview()["messages"]["total"] == 3
    assert not MessageCount.objects.filter(mailing_id=gone.pk).exists()
