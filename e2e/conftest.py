from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from e2e.stack import Stack, database_url

# Short timeouts so that failures, leases and pauses play out within a test.
STACK_ENV = {
    "GATEWAY_TIMEOUT_SECONDS": "2",
    "DISPATCH_LEASE_SECONDS": "5",
    "RECOVERY_GRACE_SECONDS": "3",
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
def stack_env() -> dict[str, str]:
    """The stack's environment; a test module may add to it by overriding this fixture."""
    return STACK_ENV


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest,
    stack_env: dict[str, str],
    django_db_setup: None,
    django_db_blocker: Any,
) -> Iterator[Stack]:
    with django_db_blocker.unblock():
        url = database_url(connection.settings_dict)
    running = Stack(
        database_url=url,
        redis=settings.CELERY_BROKER_URL.startswith("redis://"),
        env=stack_env,
    ).start()
    failed_before = request.session.testsfailed
    try:
        yield running
    finally:
        failed = request.session.testsfailed > failed_before
        running.stop(keep_logs=True)
        if failed:
            # Keep the processes' logs where CI leaves them (test-artifacts/ is not committed).
            target = Path("test-artifacts") / f"e2e-logs-{time.strftime('%Y%m%d-%H%M%S')}"
            target.parent.mkdir(exist_ok=True)
            shutil.copytree(running.tmp, target, ignore=shutil.ignore_patterns("broker"))
            print(f"\ne2e failed: the processes' logs are in {target.resolve()}")
            for log in sorted(target.glob("*.log")):
                tail = log.read_text(errors="replace").splitlines()[-15:]
                print(f"--- {log.name} (last lines) ---\n" + "\n".join(tail))
        if os.environ.get("E2E_KEEP_LOGS"):
            print(f"\nstack logs kept in {running.tmp}")
        else:
            shutil.rmtree(running.tmp, ignore_errors=True)


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
