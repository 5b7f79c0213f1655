"""The operators' dashboard in the admin."""

from __future__ import annotations

import pytest
from django.test import Client as Browser
from django.utils import timezone

from mailings.models import MailingStatus, MessageStatus
from mailings.tests.factories import MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db


def test_the_dashboard_shows_statuses_the_last_hour_and_the_circuit(admin_client: Browser) -> None:
    mailing = MailingFactory.create(status=MailingStatus.RUNNING)
    MessageFactory.create(mailing=mailing, status=MessageStatus.SENT, sent_at=timezone.now())
    MessageFactory.create(mailing=mailing, status=MessageStatus.PENDING)

    page = admin_client.get("/admin/dashboard/").content.decode()

    assert '<td class="mailings-running">1</td>' in page
    assert '<td class="messages-sent">1</td>' in page
    assert "1 messages sent in the last hour" in page
    assert "Circuit: <strong>closed</strong>" in page


def test_the_dashboard_is_for_staff_only(client: Browser) -> None:
    assert client.get("/admin/dashboard/").status_code == 302
