from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from e2e.stack import Stack, database_url

# Short timeouts so that failures, leases and pauses play out within a test.
STACK_ENV = {
    "GATEWAY_TIMEOUT_SECONDS": "2",
    "DISPATCH_LEASE_SECONDS": "5",
    "DISPATCH_TASK_SECONDS": "10",
    "DISPATCH_IDLE_SECONDS": "1",
    "DISPATCH_SLOTS": "2",
    "DISPATCH_MAX_IN_FLIGHT": "200",
    "DELIVERY_BACKOFF_BASE_SECONDS": "0.2",
    "DELIVERY_BACKOFF_CAP_SECONDS": "2",
    "BREAKER_FAILURE_THRESHOLD": "20",
    "BREAKER_RESET_SECONDS": "2",
    "CREDENTIALS_PAUSE_SECONDS": "2",
}


@pytest.fixture(scope="module")
def stack(django_db_setup: None, django_db_blocker: Any) -> Iterator[Stack]:
    with django_db_blocker.unblock():
        url = database_url(connection.settings_dict)
    running = Stack(
        database_url=url,
        redis=settings.CELERY_BROKER_URL.startswith("redis://"),
        env=STACK_ENV,
    ).start()
    try:
        yield running
    finally:
        running.stop(keep_logs=bool(os.environ.get("E2E_KEEP_LOGS")))
        if os.environ.get("E2E_KEEP_LOGS"):
            print(f"\nstack logs kept in {running.tmp}")


@pytest.fixture
def live(stack: Stack, transactional_db: None) -> Iterator[Stack]:
    """The stack with a clean emulator; committed data the processes can see."""
    stack.reset_gateway()
    yield stack
    from mailings.models import Mailing, MailingStatus

    # Stop whatever this test left running before the database is flushed.
    for mailing in Mailing.objects.filter(status=MailingStatus.RUNNING):
        from mailings import services

        services.mailing_cancel(mailing=mailing)
