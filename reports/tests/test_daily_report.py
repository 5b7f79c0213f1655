"""The daily report against a real SMTP server (aiosmtpd) on a local socket."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message as EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.db import connection

from mailings.models import MailingStatus, MessageStatus
from mailings.tests.factories import MailingFactory, MessageFactory
from reports import services
from reports.models import DailyReport, ReportStatus

RECIPIENTS = ["ops@example.com", "boss@example.com"]
DAY = datetime(2026, 11, 27, tzinfo=UTC)
AT_REPORT_TIME = DAY.replace(hour=8, minute=1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@pytest.fixture
def smtp_settings(settings: Any) -> Any:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    settings.REPORT_RECIPIENTS = RECIPIENTS
    settings.REPORT_TIME = "08:00"
    settings.REPORT_TIMEZONE = "UTC"
    return settings


@pytest.fixture
def inbox(smtp_settings: Any) -> Iterator[Inbox]:
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_settings.EMAIL_PORT)
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture
def the_day() -> dict[str, Any]:
    """Two mailings that ran in the 24 hours before 2026-11-27 08:00 UTC, one before."""
    ran = MailingFactory.create(
        text="Black Friday",
        status=MailingStatus.FINISHED,
        start_at=DAY - timedelta(hours=10),
        end_at=DAY + timedelta(hours=1),
    )
    ran.started_at, ran.finished_at = DAY - timedelta(hours=10), DAY - timedelta(hours=2)
    ran.save()
    running = MailingFactory.create(
        text="Cyber Monday",
        status=MailingStatus.RUNNING,
        start_at=DAY - timedelta(hours=1),
        end_at=DAY + timedelta(days=3),
    )
    running.started_at = DAY - timedelta(hours=1)
    running.save()
    old = MailingFactory.create(
        text="Last week",
        status=MailingStatus.FINISHED,
        start_at=DAY - timedelta(days=7),
        end_at=DAY - timedelta(days=6),
    )
    old.started_at, old.finished_at = DAY - timedelta(days=7), DAY - timedelta(days=6)
    old.save()
    for mailing, statuses in (
        (ran, ["sent", "sent", "sent", "failed"]),
        (running, ["sent", "pending"]),
        (old, ["sent"] * 5),
    ):
        for status in statuses:
            MessageFactory.create(mailing=mailing, status=status)
    return {"ran": ran, "running": running, "old": old}


def parts(message: EmailMessage) -> dict[str, str]:
    found = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode()
    return found


@pytest.mark.django_db
def test_the_daily_report_goes_to_the_recipients_with_the_days_numbers(
    inbox: Inbox, the_day: dict[str, Any]
) -> None:
    assert services.daily_report_run(now=AT_REPORT_TIME) is True

    assert len(inbox.received) == 1
    recipients, message = inbox.received[0]
    assert sorted(recipients) == sorted(RECIPIENTS)
    assert message["Subject"] == (
        "Mailing report for 2026-11-27: 4 of 6 messages sent (67%) in 2 mailings"
    )
    body = parts(message)
    assert set(body) == {"text/plain", "text/html"}
    text = body["text/plain"]
    assert "Black Friday" in text and "Cyber Monday" in text
    assert "Last week" not in text
    assert "4 messages, delivery rate 75%: pending 0, sending 0, sent 3, failed 1" in text
    assert f"<td>#{the_day['ran'].pk} Black Friday</td>" in body["text/html"]
    report = DailyReport.objects.get()
    assert (report.status, report.attempts) == (ReportStatus.SENT, 1)


@pytest.mark.django_db
def test_nothing_is_sent_before_the_report_time_or_without_recipients(
    inbox: Inbox, smtp_settings: Any
) -> None:
    assert services.daily_report_run(now=DAY.replace(hour=7, minute=59)) is False
    smtp_settings.REPORT_RECIPIENTS = []
    assert services.daily_report_run(now=AT_REPORT_TIME) is False
    assert inbox.received == []


@pytest.mark.django_db(transaction=True)
def test_it_goes_out_once_however_many_beats_ask(inbox: Inbox, the_day: dict[str, Any]) -> None:
    results: list[bool] = []

    def beat() -> None:
        try:
            results.append(services.daily_report_run(now=AT_REPORT_TIME))
        finally:
            connection.close()  # each thread's own connection

    threads = [threading.Thread(target=beat) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.append(services.daily_report_run(now=AT_REPORT_TIME + timedelta(hours=3)))

    assert sorted(results) == [False, False, False, False, True]
    assert len(inbox.received) == 1


@pytest.mark.django_db
def test_a_failed_smtp_send_is_retried_later(smtp_settings: Any, the_day: dict[str, Any]) -> None:
    # Nothing listens on EMAIL_PORT yet: the connection is refused.
    assert services.daily_report_run(now=AT_REPORT_TIME) is False
    report = DailyReport.objects.get()
    assert (report.status, report.attempts) == (ReportStatus.PENDING, 1)
    assert report.next_attempt_at is not None and report.next_attempt_at > AT_REPORT_TIME
    assert "Connection" in report.last_error or "refused" in report.last_error

    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_settings.EMAIL_PORT)
    controller.start()
    try:
        assert services.daily_report_run(now=AT_REPORT_TIME + timedelta(seconds=10)) is False
        assert services.daily_report_run(now=report.next_attempt_at) is True
    finally:
        controller.stop()
    assert len(handler.received) == 1
    report.refresh_from_db()
    assert (report.status, report.attempts) == (ReportStatus.SENT, 2)


@pytest.mark.django_db
def test_make_report_sends_the_last_24_hours_now(inbox: Inbox) -> None:
    mailing = MailingFactory.create(status=MailingStatus.RUNNING)
    mailing.started_at = datetime.now(UTC) - timedelta(hours=1)
    mailing.save()
    MessageFactory.create(mailing=mailing, status=MessageStatus.SENT)

    call_command("send_report")

    assert len(inbox.received) == 1
    assert "1 of 1 messages sent (100%) in 1 mailings" in inbox.received[0][1]["Subject"]
    assert DailyReport.objects.count() == 0  # the daily report is not affected


@pytest.mark.django_db
def test_the_report_counts_suppressed_messages(inbox: Inbox, the_day: dict[str, Any]) -> None:
    MessageFactory.create(mailing=the_day["running"], status="suppressed", last_error="stop list")

    assert services.daily_report_run(now=AT_REPORT_TIME) is True

    text = parts(inbox.received[0][1])["text/plain"]
    assert "  suppressed: 1" in text  # in the totals
    assert "3 messages, delivery rate 33%" in text and "suppressed 1" in text
