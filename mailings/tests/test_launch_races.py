"""A launch races a delete, a cancel and a client's deletion (SPEC 8.2). On PostgreSQL, the
launch is held open the way a busy database holds it: another transaction's uncommitted
message row makes the launch's INSERT wait on it."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection, connections
from django.utils import timezone

from clients.models import Client
from clients.tests.factories import ClientFactory
from mailings import messages, services
from mailings.models import Mailing, MailingStatus, Message, MessageStatus
from mailings.services import lifecycle
from mailings.tests.factories import MailingFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serializes every write transaction: these races cannot happen there",
    ),
]


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "LAUNCH_CHUNK", 2)
    monkeypatch.setattr(lifecycle, "LAUNCH_FIRST_CHUNK", 2)


def due_mailing_to(clients: int) -> tuple[Mailing, list[Client]]:
    directory = [ClientFactory.create(phone=f"7917{i:07d}") for i in range(clients)]
    now = timezone.now()
    mailing = MailingFactory.create(
        start_at=now - timedelta(seconds=1), end_at=now + timedelta(hours=1)
    )
    return mailing, directory


@contextmanager
def uncommitted_message(mailing: Mailing, client: Client) -> Iterator[Callable[[], None]]:
    """Another session inserts (mailing, client)'s message and keeps it uncommitted until
    the yielded function rolls it back."""
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=False) as other:
        other.execute(
            "INSERT INTO mailings_message (mailing_id, client_id, phone, status, attempts, "
            "created_at, last_error) VALUES (%s, %s, %s, 'pending', 0, now(), '')",
            [mailing.pk, client.pk, client.phone],
        )
        yield other.rollback


def in_thread(fn: Callable[[], Any]) -> threading.Thread:
    def run() -> None:
        try:
            fn()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def chunks_done(mailing: Mailing) -> int:
    return Mailing.objects.get(pk=mailing.pk).launch_cursor


def test_a_mailing_deleted_during_its_launch_leaves_no_message(small_chunks: None) -> None:
    mailing, directory = due_mailing_to(6)
    with uncommitted_message(mailing, directory[2]) as release:  # blocks the second chunk
        launch = in_thread(lambda: services.mailing_launch(mailing_id=mailing.pk))
        wait_for(lambda: chunks_done(mailing) == directory[1].pk)
        delete = in_thread(lambda: services.mailing_delete(mailing=mailing))
        time.sleep(0.3)  # the delete now waits for the chunk in progress
        release()
        delete.join(10)
        launch.join(10)

    assert not Mailing.objects.filter(pk=mailing.pk).exists()
    assert Message.objects.filter(mailing_id=mailing.pk).count() == 0


def test_a_cancel_during_a_launch_wins_and_stops_it(small_chunks: None) -> None:
    mailing, directory = due_mailing_to(6)
    with uncommitted_message(mailing, directory[2]) as release:
        launch = in_thread(lambda: services.mailing_launch(mailing_id=mailing.pk))
        wait_for(lambda: chunks_done(mailing) == directory[1].pk)
        cancel = in_thread(lambda: services.mailing_cancel(mailing=mailing))
        time.sleep(0.3)
        release()
        cancel.join(10)
        launch.join(10)

    assert Mailing.objects.get(pk=mailing.pk).status == MailingStatus.CANCELLED
    statuses = set(Message.objects.filter(mailing=mailing).values_list("status", flat=True))
    assert statuses == {MessageStatus.CANCELLED}
    # The launch stopped at the chunk the cancel waited for: the last clients have none.
    assert Message.objects.filter(mailing=mailing).count() == 4


def test_a_client_deleted_during_a_launch_is_never_sent_to(small_chunks: None) -> None:
    mailing, directory = due_mailing_to(4)
    doomed = directory[3]
    with uncommitted_message(mailing, directory[2]) as release:
        launch = in_thread(lambda: services.mailing_launch(mailing_id=mailing.pk))
        wait_for(lambda: chunks_done(mailing) == directory[1].pk)
        # The launch's chunk already chose directory[2:4]; the client goes meanwhile.
        Client.objects.filter(pk=doomed.pk).delete()
        release()
        launch.join(10)

    orphan = Message.objects.get(mailing=mailing, phone=doomed.phone)
    claimed = messages.messages_claim(limit=100, token=uuid.uuid4())

    assert doomed.phone not in {m.phone for m in claimed}
    assert len(claimed) == 3
    orphan.refresh_from_db()
    assert (orphan.status, orphan.last_error) == (MessageStatus.CANCELLED, "client deleted")


def test_a_launch_cut_short_is_resumed_from_its_cursor(small_chunks: None) -> None:
    mailing, directory = due_mailing_to(5)
    Mailing.objects.filter(pk=mailing.pk).update(
        status=MailingStatus.RUNNING,
        launch_cursor=directory[1].pk,
        launch_progress_at=timezone.now() - timedelta(minutes=5),
    )
    ids = directory[0].pk, directory[1].pk

    resumed = services.mailings_launch_stalled()

    assert resumed == [mailing.pk]
    created = set(Message.objects.filter(mailing=mailing).values_list("client_id", flat=True))
    assert created == {c.pk for c in directory} - set(ids)
    assert Mailing.objects.get(pk=mailing.pk).launched_at is not None


def test_the_messages_of_committed_chunks_are_claimed_while_the_launch_goes_on(
    small_chunks: None,
) -> None:
    mailing, directory = due_mailing_to(6)
    with uncommitted_message(mailing, directory[2]) as release:  # holds the second chunk
        launch = in_thread(lambda: services.mailing_launch(mailing_id=mailing.pk))
        wait_for(lambda: chunks_done(mailing) == directory[1].pk)

        claimed = messages.messages_claim(limit=100, token=uuid.uuid4())

        release()
        launch.join(10)

    assert {m.client_id for m in claimed} == {directory[0].pk, directory[1].pk}
    assert Message.objects.filter(mailing=mailing).count() == 6


def test_a_claim_leaves_a_mailing_an_operator_is_changing_and_holds_back_the_next_change() -> None:
    from django.db import transaction

    mailing, _ = due_mailing_to(2)
    services.mailing_launch(mailing_id=mailing.pk)
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=False) as operator:  # a pause in progress
        operator.execute("SELECT id FROM mailings_mailing WHERE id = %s FOR UPDATE", [mailing.pk])
        assert messages.messages_claim(limit=100, token=uuid.uuid4()) == []
        operator.rollback()

    claimed: list[Any] = []
    commit = threading.Event()

    def claim_then_wait() -> None:
        with transaction.atomic():
            claimed.extend(messages.messages_claim(limit=100, token=uuid.uuid4()))
            commit.wait(10)

    claim = in_thread(claim_then_wait)
    wait_for(lambda: len(claimed) == 2)
    pause = in_thread(lambda: services.mailing_pause(mailing=mailing))
    time.sleep(0.3)
    assert pause.is_alive()  # the pause waits for the claim: its requests count as started
    commit.set()
    claim.join(10)
    pause.join(10)
    assert Mailing.objects.get(pk=mailing.pk).status == MailingStatus.PAUSED
