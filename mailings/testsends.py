"""Test sends: a mailing's text sent now to an operator's own numbers (SPEC 8.4), and every
change of their status.

    pending ──claim (lease)──▶ sent | failed | pending (retry, for TEST_SEND_RETRY_SECONDS)
    (create) ──▶ suppressed (a listed number)     pending ──claim──▶ suppressed (listed since)

They are not messages: they count in no statistic, ignore the mailing's start, end and
window, and their gateway msgId is ``TEST_SEND_MSG_ID_BASE + id``, never a message's id.
The worker wakes at once through the ``TEST_SEND_TASK`` task; the scheduler tick starts it
again while any is due.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.logging import mask_phone, mask_phones_in
from mailings.models import SUPPRESSED_STOP_LIST, Mailing, TestSend, TestSendStatus
from stoplist import selectors as stoplist_selectors

logger = logging.getLogger(__name__)

# Registered by delivery/tasks.py (the layer above), called by name.
TEST_SEND_TASK = "delivery.tasks.send_test_sends"
MAX_PHONES = 5
LEASE_SECONDS = 60.0
CLAIM_LIMIT = 100


def create_test_sends(*, mailing: Mailing, phones: list[str]) -> list[TestSend]:
    """One test send per number (already normalized, at most ``MAX_PHONES``); a listed
    number's is ``suppressed`` at once. The worker is woken after commit."""
    now = timezone.now()
    listed = stoplist_selectors.listed_among(phones)
    with transaction.atomic():
        created = [
            TestSend.objects.create(
                mailing=mailing,
                phone=phone,
                status=TestSendStatus.SUPPRESSED if phone in listed else TestSendStatus.PENDING,
                next_attempt_at=None if phone in listed else now,
                last_error=SUPPRESSED_STOP_LIST if phone in listed else "",
                created_at=now,
            )
            for phone in phones
        ]
        transaction.on_commit(lambda: current_app.send_task(TEST_SEND_TASK))
    logger.info(
        "test sends created",
        extra={"mailing_id": mailing.pk, "phones": [mask_phone(p) for p in phones]},
    )
    return created


@dataclass(frozen=True, slots=True)
class ClaimedTestSend:
    id: int
    msg_id: int
    phone: str
    text: str
    attempts: int
    give_up_at: datetime  # created_at + TEST_SEND_RETRY_SECONDS


def due_test_sends_exist(*, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return TestSend.objects.filter(status=TestSendStatus.PENDING, next_attempt_at__lte=now).exists()


def claim_test_sends(*, now: datetime | None = None) -> list[ClaimedTestSend]:
    """Take the due test sends under a lease (another worker may take one whose lease
    lapsed); a number listed since its creation is suppressed instead."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            TestSend.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=TestSendStatus.PENDING, next_attempt_at__lte=now)
            .select_related("mailing")
            .order_by("next_attempt_at")[:CLAIM_LIMIT]
        )
        listed = stoplist_selectors.listed_among({row.phone for row in rows})
        suppressed = [row.pk for row in rows if row.phone in listed]
        if suppressed:
            TestSend.objects.filter(pk__in=suppressed).update(
                status=TestSendStatus.SUPPRESSED,
                next_attempt_at=None,
                last_error=SUPPRESSED_STOP_LIST,
            )
        claimed = [row for row in rows if row.phone not in listed]
        lease = now + timedelta(seconds=LEASE_SECONDS)
        TestSend.objects.filter(pk__in=[row.pk for row in claimed]).update(
            next_attempt_at=lease, lease_expires_at=lease
        )
    window = timedelta(seconds=settings.TEST_SEND_RETRY_SECONDS)
    return [
        ClaimedTestSend(
            id=row.pk,
            msg_id=row.msg_id,
            phone=row.phone,
            text=row.mailing.text,
            attempts=row.attempts,
            give_up_at=row.created_at + window,
        )
        for row in claimed
    ]


def record_test_send(
    *,
    test_send_id: int,
    status: TestSendStatus,
    attempts: int,
    next_attempt_at: datetime | None = None,
    error: str = "",
) -> None:
    """A claimed test send's outcome: sent, failed, or pending again (retry)."""
    now = timezone.now()
    TestSend.objects.filter(pk=test_send_id, status=TestSendStatus.PENDING).update(
        status=status,
        attempts=attempts,
        next_attempt_at=next_attempt_at if status == TestSendStatus.PENDING else None,
        lease_expires_at=None,
        sent_at=now if status == TestSendStatus.SENT else None,
        last_error=mask_phones_in(error[:1000]),
    )
