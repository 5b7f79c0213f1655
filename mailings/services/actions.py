"""The operators' actions on a mailing: create, update, start now, cancel, retry, delete.

Each runs under the mailing's row lock (``SELECT … FOR UPDATE``). It conflicts with the
lock a launch takes for each chunk of messages it creates (``FOR NO KEY UPDATE``), so an
action waits for at most one chunk and the launch sees the action's result before its next
chunk; and with the claims' (``FOR KEY SHARE``), so no message of the mailing is claimed
after the action's answer (those claimed before it, ``sending``, still go out).
"""

from __future__ import annotations

import logging
from datetime import datetime, time
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.exceptions import Conflict, InvalidInput
from mailings.messages import (
    messages_cancel,
    messages_retry_failed,
    messages_schedule_window,
)
from mailings.models import (
    Kind,
    Mailing,
    MailingStatus,
    Message,
    MessageCount,
    MessageCountDelta,
    Priority,
)

logger = logging.getLogger(__name__)

# What a running mailing may still change: it applies to messages not yet sent.
RUNNING_EDITABLE = frozenset(
    {"end_at", "text", "send_window_start", "send_window_end", "priority", "max_rate"}
)


def enqueue_launch(mailing_id: int) -> None:
    """Ask a worker to launch now. Best effort: the scheduler tick launches due mailings
    anyway, so a broker hiccup delays a launch by a second instead of failing the request."""
    from mailings.tasks import mailing_launch

    try:
        mailing_launch.delay(mailing_id)
    except Exception:
        logger.warning(
            "could not enqueue the launch; the scheduler tick will launch it",
            exc_info=True,
            extra={"mailing_id": mailing_id},
        )


def mailing_check_times(*, start_at: datetime, end_at: datetime, now: datetime) -> None:
    """The creation's rule: ``end_at`` after ``start_at`` and in the future (InvalidInput)."""
    errors: dict[str, list[str]] = {}
    if end_at <= start_at:
        errors["end_at"] = ["end_at must be after start_at."]
    elif end_at <= now:
        errors["end_at"] = ["end_at must be in the future."]
    if errors:
        raise InvalidInput(errors)


def mailing_create(
    *,
    text: str,
    start_at: datetime,
    end_at: datetime,
    filter_operator_code: str = "",
    filter_tag: str = "",
    send_window_start: time | None = None,
    send_window_end: time | None = None,
    kind: str = Kind.SERVICE,
    priority: str = Priority.NORMAL,
    max_rate: float | None = None,
) -> Mailing:
    """Create a mailing; one whose start time has come is launched right after commit."""
    now = timezone.now()
    mailing_check_times(start_at=start_at, end_at=end_at, now=now)
    mailing = Mailing.objects.create(
        text=text,
        start_at=start_at,
        end_at=end_at,
        filter_operator_code=filter_operator_code,
        filter_tag=filter_tag,
        send_window_start=send_window_start,
        send_window_end=send_window_end,
        kind=kind,
        priority=priority,
        max_rate=max_rate,
    )
    logger.info("mailing created", extra={"mailing_id": mailing.pk})
    if start_at <= now:
        transaction.on_commit(lambda: enqueue_launch(mailing.pk))
    return mailing


def mailing_changes_allowed(
    *, mailing: Mailing, changes: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The changes that differ from the mailing's current values, when its state allows them.

    A scheduled mailing may change anything; a running one only ``end_at`` (never into the
    past), ``text`` and ``send_window``; a finished or cancelled one nothing (Conflict).
    Repeating a field's current value is not a change. Writes nothing.
    """
    changed = {k: v for k, v in changes.items() if getattr(mailing, k) != v}
    if not changed:
        return changed
    if mailing.status in (MailingStatus.FINISHED, MailingStatus.CANCELLED):
        raise Conflict(f"Mailing {mailing.pk} is {mailing.status}; it cannot change.")
    if mailing.status in (MailingStatus.RUNNING, MailingStatus.PAUSED):
        frozen = sorted(set(changed) - RUNNING_EDITABLE)
        if frozen:
            names = ", ".join("filter" if f.startswith("filter_") else f for f in frozen)
            raise Conflict(
                f"Mailing {mailing.pk} is {mailing.status}; only end_at, text and send_window "
                f"can change (not {names})."
            )
    if {"start_at", "end_at"} & set(changed):
        mailing_check_times(
            start_at=changed.get("start_at", mailing.start_at),
            end_at=changed.get("end_at", mailing.end_at),
            now=now,
        )
    return changed


def mailing_update(*, mailing: Mailing, changes: dict[str, Any]) -> Mailing:
    """Apply the changes the mailing's state allows (``mailing_changes_allowed``), under the
    mailing's row lock; a running mailing's new window reschedules its pending messages."""
    now = timezone.now()
    with transaction.atomic():
        current = Mailing.objects.select_for_update().get(pk=mailing.pk)
        changed = mailing_changes_allowed(mailing=current, changes=changes, now=now)
        if not changed:
            return current
        for name, value in changed.items():
            setattr(current, name, value)
        current.save(update_fields=list(changed))
        window_changed = {"send_window_start", "send_window_end"} & set(changed)
        if current.status in (MailingStatus.RUNNING, MailingStatus.PAUSED) and window_changed:
            messages_schedule_window(mailing=current, now=now)
        logger.info("mailing updated", extra={"mailing_id": current.pk, "fields": sorted(changed)})
        if current.status == MailingStatus.SCHEDULED and current.start_at <= now:
            transaction.on_commit(lambda: enqueue_launch(current.pk))
    return current


def mailing_start_now(*, mailing: Mailing) -> Mailing:
    """Start a scheduled mailing now (its start time becomes now); no-op when running."""
    now = timezone.now()
    with transaction.atomic():
        current = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if current.status == MailingStatus.RUNNING:
            return current
        if current.status != MailingStatus.SCHEDULED:
            raise Conflict(f"Mailing {current.pk} is {current.status}; it cannot start.")
        if current.end_at <= now:
            raise Conflict(f"Mailing {current.pk} ended at {current.end_at.isoformat()}.")
        if current.start_at > now:
            current.start_at = now
            current.save(update_fields=["start_at"])
        logger.info("mailing start requested", extra={"mailing_id": current.pk})
        transaction.on_commit(lambda: enqueue_launch(current.pk))
    return current


def mailing_cancel(*, mailing: Mailing) -> Mailing:
    """Stop a mailing: its undelivered messages become ``cancelled``. Idempotent.

    Messages already in flight keep their lease and record their real outcome; no new
    request for this mailing starts after this returns (the dispatcher checks the mailing's
    status right before each request). A finished mailing has nothing left to stop.
    """
    now = timezone.now()
    with transaction.atomic():
        current = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if current.status in (MailingStatus.FINISHED, MailingStatus.CANCELLED):
            return current
        current.status = MailingStatus.CANCELLED
        current.finished_at = now
        current.save(update_fields=["status", "finished_at"])
        cancelled = messages_cancel(mailing_id=current.pk, reason="mailing cancelled")
    logger.info(
        "mailing cancelled", extra={"mailing_id": current.pk, "cancelled_messages": cancelled}
    )
    return current


def mailing_retry_failed(*, mailing: Mailing) -> Mailing:
    """Put failed messages back to ``pending`` with fresh attempts; a finished mailing runs
    again. Only while ``end_at`` is ahead."""
    now = timezone.now()
    with transaction.atomic():
        current = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if current.status not in (MailingStatus.RUNNING, MailingStatus.FINISHED):
            raise Conflict(f"Mailing {current.pk} is {current.status}; nothing to retry.")
        if current.end_at <= now:
            raise Conflict(
                f"Mailing {current.pk} ended at {current.end_at.isoformat()}; nothing can be "
                "sent after its end time."
            )
        retried = messages_retry_failed(mailing_id=current.pk, now=now)
        if retried and current.status == MailingStatus.FINISHED:
            current.status = MailingStatus.RUNNING
            current.finished_at = None
            current.save(update_fields=["status", "finished_at"])
    logger.info("failed messages retried", extra={"mailing_id": current.pk, "retried": retried})
    return current


def mailing_delete(*, mailing: Mailing) -> None:
    """Delete a mailing and its messages; sending stops before this returns.

    Under the mailing's row lock, so a launch in progress stops at its next chunk (it finds
    no mailing) and leaves no message behind.
    """
    mailing_id = mailing.pk
    with transaction.atomic():
        if not Mailing.objects.select_for_update().filter(pk=mailing_id).exists():
            return
        # One DELETE for the messages instead of Django's collect-then-delete.
        deleted, _ = Message.objects.filter(mailing_id=mailing_id).delete()
        Mailing.objects.filter(pk=mailing_id).delete()
        MessageCount.objects.filter(mailing_id=mailing_id).delete()
        MessageCountDelta.objects.filter(mailing_id=mailing_id).delete()
    logger.info("mailing deleted", extra={"mailing_id": mailing_id, "deleted_messages": deleted})
