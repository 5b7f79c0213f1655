"""The mailing update rules (SPEC section 3) at the service, without HTTP: what each status
lets change, and that repeating a value is not a change."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from core.exceptions import Conflict, InvalidInput
from mailings import services
from mailings.models import Mailing, MailingStatus, Message, MessageStatus
from mailings.tests.factories import MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db

LATER = timedelta(hours=2)


def mailing_in(status: MailingStatus, **fields: Any) -> Mailing:
    now = timezone.now()
    start = now + LATER if status == MailingStatus.SCHEDULED else now - timedelta(minutes=5)
    return MailingFactory.create(
        status=status, start_at=start, end_at=start + timedelta(days=1), **fields
    )


def test_a_scheduled_mailing_may_change_anything() -> None:
    mailing = mailing_in(MailingStatus.SCHEDULED)
    new_start = mailing.start_at + timedelta(hours=1)
    changes = {
        "text": "New text",
        "start_at": new_start,
        "end_at": new_start + timedelta(hours=3),
        "filter_operator_code": "900",
        "filter_tag": "vip",
        "send_window_start": time(9),
        "send_window_end": time(21),
    }

    updated = services.mailing_update(mailing=mailing, changes=changes)

    stored = Mailing.objects.get(pk=mailing.pk)
    for name, value in changes.items():
        assert getattr(updated, name) == value == getattr(stored, name)


@pytest.mark.parametrize(
    "changes",
    [
        {"text": "Corrected text"},
        {"send_window_start": time(10), "send_window_end": time(18)},
    ],
)
def test_a_running_mailing_may_change_its_text_window_and_end(changes: dict[str, Any]) -> None:
    mailing = mailing_in(MailingStatus.RUNNING)
    changes = {**changes, "end_at": mailing.end_at + timedelta(hours=1)}

    services.mailing_update(mailing=mailing, changes=changes)

    stored = Mailing.objects.get(pk=mailing.pk)
    assert {name: getattr(stored, name) for name in changes} == changes


@pytest.mark.parametrize(
    ("field", "shown"),
    [
        ("filter_tag", "filter"),
        ("filter_operator_code", "filter"),
        ("start_at", "start_at"),
    ],
)
def test_a_running_mailing_refuses_other_changes_with_409(field: str, shown: str) -> None:
    mailing = mailing_in(MailingStatus.RUNNING)
    value = "900" if field.startswith("filter") else timezone.now() + LATER

    with pytest.raises(
        Conflict, match=f"only end_at, text and send_window can change .not {shown}"
    ):
        services.mailing_update(mailing=mailing, changes={field: value})

    assert getattr(Mailing.objects.get(pk=mailing.pk), field) == getattr(mailing, field)


def test_a_running_mailing_cannot_end_in_the_past() -> None:
    mailing = mailing_in(MailingStatus.RUNNING)

    with pytest.raises(InvalidInput) as refused:
        services.mailing_update(
            mailing=mailing, changes={"end_at": timezone.now() - timedelta(seconds=1)}
        )

    assert refused.value.errors == {"end_at": ["end_at must be in the future."]}
    assert Mailing.objects.get(pk=mailing.pk).end_at == mailing.end_at


@pytest.mark.parametrize("status", [MailingStatus.FINISHED, MailingStatus.CANCELLED])
def test_a_finished_or_cancelled_mailing_changes_nothing(status: MailingStatus) -> None:
    mailing = mailing_in(status)

    with pytest.raises(Conflict, match=f"is {status.value}; it cannot change"):
        services.mailing_update(mailing=mailing, changes={"text": "Too late"})

    assert Mailing.objects.get(pk=mailing.pk).text == mailing.text


@pytest.mark.parametrize(
    "status", [MailingStatus.RUNNING, MailingStatus.FINISHED, MailingStatus.CANCELLED]
)
def test_repeating_a_current_value_is_not_a_change(status: MailingStatus) -> None:
    mailing = mailing_in(status, filter_tag="vip")
    same = {"filter_tag": "vip", "start_at": mailing.start_at, "text": mailing.text}

    updated = services.mailing_update(mailing=mailing, changes=same)

    assert updated.status == status


def test_a_new_window_on_a_running_mailing_reschedules_its_pending_messages() -> None:
    mailing = mailing_in(MailingStatus.RUNNING)
    pending = MessageFactory.create(mailing=mailing, next_attempt_at=timezone.now())
    sent = MessageFactory.create(mailing=mailing, status=MessageStatus.SENT)
    now_utc = timezone.now()  # the factory's clients live in UTC
    closed_now = (now_utc + timedelta(hours=3)).time().replace(second=0, microsecond=0)
    opens_at = (now_utc + timedelta(hours=3, minutes=30)).time().replace(second=0, microsecond=0)

    services.mailing_update(
        mailing=mailing, changes={"send_window_start": closed_now, "send_window_end": opens_at}
    )

    pending.refresh_from_db()
    assert pending.next_attempt_at is not None
    assert pending.next_attempt_at > timezone.now() + timedelta(hours=2)
    assert Message.objects.get(pk=sent.pk).status == MessageStatus.SENT
