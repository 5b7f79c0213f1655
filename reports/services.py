"""Sending the daily statistics report: once per day, retried until it goes out.

1. Each beat check (``reports.tasks.daily_report``) asks whether today's report time has
   come in ``REPORT_TIMEZONE``; the report covers the 24 hours before that time.
2. The day's ``DailyReport`` row is created once (unique day) and claimed with a conditional
   update under a lease, so two beats or two workers can never both send it.
3. A failed SMTP send puts the row back to pending with a growing delay and is retried; a
   sent row is never sent again.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from reports.models import DailyReport, ReportStatus
from reports.selectors import report_data

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_RETRY_DELAY = timedelta(hours=1)


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.REPORT_TIMEZONE)


def _report_time() -> time:
    return time.fromisoformat(settings.REPORT_TIME)


def report_window(day: date) -> tuple[datetime, datetime]:
    """The 24 hours before ``day`` at REPORT_TIME, in REPORT_TIMEZONE."""
    zone = _zone()
    end = datetime.combine(day, _report_time(), tzinfo=zone)
    start = datetime.combine(day - timedelta(days=1), _report_time(), tzinfo=zone)
    return start, end


def report_due_day(now: datetime) -> date | None:
    """Today's report day once its time has come, else None."""
    local = now.astimezone(_zone())
    return local.date() if local.time() >= _report_time() else None


def report_email(*, start: datetime, end: datetime, title: str) -> EmailMultiAlternatives:
    data = report_data(start=start, end=end)
    context = {**data, "title": title, "zone": settings.REPORT_TIMEZONE}
    totals = data["totals"]
    subject = (
        f"{title}: {totals['by_status']['sent']} of {totals['total']} messages sent "
        f"({totals['delivery_rate']:.0%}) in {len(data['mailings'])} mailings"
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("reports/daily.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(settings.REPORT_RECIPIENTS),
    )
    message.attach_alternative(render_to_string("reports/daily.html", context), "text/html")
    return message


def report_send_now() -> int:
    """`make report`: the last 24 hours, sent at once (the daily report is not affected)."""
    end = timezone.now()
    title = f"Mailing report, {end.astimezone(_zone()):%Y-%m-%d %H:%M} {settings.REPORT_TIMEZONE}"
    return report_email(start=end - timedelta(days=1), end=end, title=title).send()


def daily_report_run(*, now: datetime | None = None) -> bool:
    """Send today's report if it is due and not sent yet; True if this call sent it."""
    now = now or timezone.now()
    day = report_due_day(now)
    if day is None or not settings.REPORT_RECIPIENTS:
        return False
    DailyReport.objects.get_or_create(day=day)
    due = Q(status=ReportStatus.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    lapsed = Q(status=ReportStatus.SENDING, lease_expires_at__lte=now)
    claimed = (
        DailyReport.objects.filter(day=day)
        .filter(due | lapsed)
        .update(status=ReportStatus.SENDING, lease_expires_at=now + LEASE)
    )
    if not claimed:
        return False
    report = DailyReport.objects.get(day=day)
    start, end = report_window(day)
    try:
        report_email(start=start, end=end, title=f"Mailing report for {day:%Y-%m-%d}").send()
    except (smtplib.SMTPException, OSError) as exc:
        attempts = report.attempts + 1
        delay = min(timedelta(minutes=2 ** (attempts - 1)), MAX_RETRY_DELAY)
        DailyReport.objects.filter(pk=report.pk, status=ReportStatus.SENDING).update(
            status=ReportStatus.PENDING,
            attempts=attempts,
            next_attempt_at=now + delay,
            lease_expires_at=None,
            last_error=f"{type(exc).__name__}: {exc}"[:1000],
        )
        logger.warning(
            "daily report not sent; retrying in %s",
            delay,
            extra={"day": str(day), "attempt": attempts},
        )
        return False
    DailyReport.objects.filter(pk=report.pk, status=ReportStatus.SENDING).update(
        status=ReportStatus.SENT,
        attempts=report.attempts + 1,
        sent_at=timezone.now(),
        lease_expires_at=None,
        last_error="",
    )
    logger.info(
        "daily report sent",
        extra={"day": str(day), "recipients": len(settings.REPORT_RECIPIENTS)},
    )
    return True
