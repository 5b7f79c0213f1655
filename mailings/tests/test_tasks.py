"""The launch travels through the real broker (Redis, or the filesystem transport) to a real
Celery worker, and beat's tick does the same without any enqueue."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone
from rest_framework.test import APIClient

from clients.tests.factories import ClientFactory
from config.celery import app as celery_app
from delivery import tasks
from mailings.models import Mailing, MailingStatus
from mailings.tests.factories import MailingFactory


@pytest.fixture
def worker(transactional_db: None) -> Iterator[Any]:
    # Drop whatever earlier runs left queued so that only this test's tasks run.
    celery_app.control.purge()
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as w:
        yield w


def wait_for_status(
    mailing_id: int, status: str, timeout: float = 10.0, tick_every: float | None = None
) -> Mailing:
    deadline = time.monotonic() + timeout
    last_tick = 0.0
    while time.monotonic() < deadline:
        mailing = Mailing.objects.get(pk=mailing_id)
        if mailing.status == status:
            return mailing
        if tick_every is not None and time.monotonic() - last_tick >= tick_every:
            tasks.tick.delay()  # as beat does
            last_tick = time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"mailing {mailing_id} is {mailing.status}, not {status}")


def test_creating_a_due_mailing_launches_it_through_the_broker(worker: Any, user: Any) -> None:
    ClientFactory.create_batch(3)
    api = APIClient()
    api.force_authenticate(user)
    now = timezone.now()

    response = api.post(
        "/api/mailings/",
        {
            "text": "now",
            "start_at": now.isoformat(),
            "end_at": (now + timedelta(hours=1)).isoformat(),
        },
        format="json",
    )

    assert response.status_code == 201
    wait_for_status(response.data["id"], MailingStatus.RUNNING)
    # Running comes first (its own commit), then the launch creates the messages.
    deadline = time.monotonic() + 10
    while Mailing.objects.get(pk=response.data["id"]).launched_at is None:
        assert time.monotonic() < deadline, "the launch did not complete"
        time.sleep(0.05)
    assert Mailing.objects.get(pk=response.data["id"]).messages.count() == 3


def test_published_ticks_launch_a_mailing_when_its_time_comes(worker: Any) -> None:
    ClientFactory.create_batch(2)
    mailing = MailingFactory.create(start_at=timezone.now() + timedelta(seconds=1))

    launched = wait_for_status(mailing.pk, MailingStatus.RUNNING, tick_every=1.0)
    assert launched.messages.count() == 2


@pytest.fixture
def due_in_chunks(
    monkeypatch: pytest.MonkeyPatch, settings: Any, transactional_db: None
) -> Mailing:
    """A due mailing to 5 clients, launched in a first chunk of 1 then chunks of 2, with
    three dispatch slots."""
    from mailings.services import lifecycle

    settings.DISPATCH_SLOTS = 3
    monkeypatch.setattr(lifecycle, "LAUNCH_CHUNK", 2)
    monkeypatch.setattr(lifecycle, "LAUNCH_FIRST_CHUNK", 1)
    ClientFactory.create_batch(5)
    return MailingFactory.create(start_at=timezone.now() - timedelta(seconds=1))


def test_the_launch_wakes_a_dispatcher_per_slot_once_its_first_chunk_is_committed(
    monkeypatch: pytest.MonkeyPatch, due_in_chunks: Mailing
) -> None:
    """Sending starts while the rest of a large launch is still being created."""
    from mailings import tasks as mailing_tasks

    mailing = due_in_chunks
    committed_when_woken: list[int] = []

    def send_task(name: str) -> None:
        assert name == mailing_tasks.DISPATCH_TASK
        # Read on a connection of its own: what another process would see (committed).
        committed_when_woken.append(_committed_messages(mailing.pk))

    monkeypatch.setattr(mailing_tasks.current_app, "send_task", send_task)

    mailing_tasks.mailing_launch(mailing.pk)

    assert committed_when_woken == [1, 1, 1]  # after the small first chunk, one per slot
    assert Mailing.objects.get(pk=mailing.pk).messages.count() == 5


def _committed_messages(mailing_id: int) -> int:
    import threading

    from django.db import connection

    seen: list[int] = []

    def count() -> None:
        try:
            seen.append(Mailing.objects.get(pk=mailing_id).messages.count())
        finally:
            connection.close()

    reader = threading.Thread(target=count)
    reader.start()
    reader.join()
    return seen[0]


@pytest.mark.django_db
def test_a_tick_starts_a_dispatcher_for_each_free_slot(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from mailings.tests.factories import MessageFactory

    settings.DISPATCH_SLOTS = 3
    monkeypatch.setattr(tasks.services, "scheduler_record_tick", lambda: False)
    MessageFactory.create(mailing__status=MailingStatus.RUNNING, next_attempt_at=timezone.now())
    assert tasks.services.slot_acquire(owner="busy") is not None
    started: list[None] = []
    monkeypatch.setattr(tasks.dispatch, "delay", lambda: started.append(None))

    tasks.run_tick()
    assert len(started) == 2  # three slots, one taken

    assert tasks.services.slot_acquire(owner="busy too") is not None
    assert tasks.services.slot_acquire(owner="busy as well") is not None
    started.clear()
    tasks.run_tick()
    assert started == []


def test_a_tick_that_launches_a_mailing_starts_the_dispatchers_after_its_first_chunk(
    monkeypatch: pytest.MonkeyPatch, due_in_chunks: Mailing
) -> None:
    mailing = due_in_chunks
    monkeypatch.setattr(tasks.services, "scheduler_record_tick", lambda: False)
    committed_when_started: list[int] = []
    monkeypatch.setattr(
        tasks.dispatch,
        "delay",
        lambda: committed_when_started.append(_committed_messages(mailing.pk)),
    )

    tasks.run_tick()

    # Three once the first chunk of 1 committed, three more at the tick's end (no dispatcher
    # took a slot in between: the tasks went nowhere).
    assert committed_when_started == [1, 1, 1, 5, 5, 5]
