"""Pause and resume (SPEC 8.5), by an operator or by the mailing itself.

Both run under the mailing's row lock, like cancel: the claim takes only messages of running
mailings, so no message of a paused mailing is claimed after the pause's answer; those a
dispatcher claimed before it (``sending``) still go out within a fraction of a second and
record their real outcomes. Resume continues exactly the messages still pending. A
paused mailing still ends at its end time (``lifecycle.mailings_finish_ended``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Count

from core.exceptions import Conflict
from core.logging import mask_phones_in
from mailings import selectors
from mailings.models import Mailing, MailingStatus, Message, MessageStatus

logger = logging.getLogger(__name__)

OPERATOR = "operator"


def mailing_pause(*, mailing: Mailing, reason: str = OPERATOR) -> Mailing:
    """A scheduled or running mailing becomes ``paused``; idempotent; 409 when it ended."""
    with transaction.atomic():
        current = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if current.status == MailingStatus.PAUSED:
            return current
        if current.status not in (MailingStatus.SCHEDULED, MailingStatus.RUNNING):
            raise Conflict(f"Mailing {current.pk} is {current.status}; it cannot pause.")
        current.status, current.paused_reason = MailingStatus.PAUSED, reason
        current.save(update_fields=["status", "paused_reason"])
    logger.info("mailing paused", extra={"mailing_id": current.pk, "reason": reason})
    return current


def mailing_resume(*, mailing: Mailing) -> Mailing:
    """A paused mailing runs again (or is scheduled, if it never started); 409 unless paused.
    A launch the pause interrupted goes on at once."""
    from mailings.services.actions import enqueue_launch

    with transaction.atomic():
        current = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if current.status != MailingStatus.PAUSED:
            raise Conflict(f"Mailing {current.pk} is {current.status}; only a paused one resumes.")
        started = current.started_at is not None
        current.status = MailingStatus.RUNNING if started else MailingStatus.SCHEDULED
        current.paused_reason = ""
        current.save(update_fields=["status", "paused_reason"])
        transaction.on_commit(lambda: enqueue_launch(current.pk))
    logger.info("mailing resumed", extra={"mailing_id": current.pk, "status": current.status})
    return current


def mailings_auto_pause(*, mailing_ids: Iterable[int]) -> set[int]:
    """Weigh each mailing's early outcomes once: when at least ``AUTO_PAUSE_FAILED_RATIO`` of
    its first ``AUTO_PAUSE_MIN_OUTCOMES`` final outcomes failed, it pauses itself, with the
    counts and its commonest error (gateway status and text, phones masked) as the reason.
    Called by the dispatcher after each batch of outcomes, before it claims more.

    Returns the mailings weighed for good (now or before): the caller need not ask again."""
    rows = list(
        Mailing.objects.filter(pk__in=set(mailing_ids)).values_list(
            "id", "status", "auto_pause_checked"
        )
    )
    settled = {mailing_id for mailing_id, _, checked in rows if checked}
    candidates = [
        mailing_id
        for mailing_id, status, checked in rows
        if status == MailingStatus.RUNNING and not checked
    ]
    if not candidates:
        return settled
    counts = selectors.message_counts(mailing_ids=candidates)
    for mailing_id in candidates:
        by_status = counts[mailing_id]["by_status"]
        failed, final = by_status["failed"], by_status["failed"] + by_status["sent"]
        if final < settings.AUTO_PAUSE_MIN_OUTCOMES:
            continue
        Mailing.objects.filter(pk=mailing_id).update(auto_pause_checked=True)
        settled.add(mailing_id)
        if failed < settings.AUTO_PAUSE_FAILED_RATIO * final:
            continue
        reason = (
            f"auto: {failed} of the first {final} outcomes failed; {_commonest_error(mailing_id)}"
        )
        try:
            mailing_pause(mailing=Mailing(pk=mailing_id), reason=reason[:500])
        except Conflict:
            continue  # cancelled or ended meanwhile
        logger.warning("mailing paused itself", extra={"mailing_id": mailing_id, "reason": reason})
    return settled


def _commonest_error(mailing_id: int) -> str:
    row = (
        Message.objects.filter(mailing_id=mailing_id, status=MessageStatus.FAILED)
        .values("last_error")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    if row is None:
        return "no error text"
    text = mask_phones_in(row["last_error"])
    return f"commonest error ({row['n']}): {text[:300]}"
