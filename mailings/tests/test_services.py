from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients.models import Client
from clients.tests.factories import ClientFactory
from delivery import tasks
from mailings import selectors, services
from mailings.models import Mailing, MailingStatus, Message, MessageStatus
from mailings.tests.factories import MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db


def due_mailing(**kwargs: object) -> Mailing:
    now = timezone.now()
    return MailingFactory.create(
        start_at=now - timedelta(seconds=1), end_at=now + timedelta(hours=1), **kwargs
    )


@pytest.fixture
def directory() -> dict[str, Client]:
    return {
        "vip_900": ClientFactory.create(phone="79001111111", operator_code="900", tag="vip"),
        "new_900": ClientFactory.create(phone="79002222222", operator_code="900", tag="new"),
        "vip_916": ClientFactory.create(phone="79163333333", operator_code="916", tag="vip"),
        "untagged_916": ClientFactory.create(phone="79164444444", operator_code="916", tag=""),
    }


@pytest.mark.parametrize(
    ("operator_code", "tag", "expected"),
    [
        ("", "", {"vip_900", "new_900", "vip_916", "untagged_916"}),
        ("900", "", {"vip_900", "new_900"}),
        ("", "vip", {"vip_900", "vip_916"}),
        ("900", "vip", {"vip_900"}),
        ("916", "new", set()),
    ],
)
def test_launch_snapshots_exactly_the_clients_matching_every_given_criterion(
    directory: dict[str, Client], operator_code: str, tag: str, expected: set[str]
) -> None:
    mailing = due_mailing(filter_operator_code=operator_code, filter_tag=tag)

    assert services.mailing_launch(mailing_id=mailing.pk) is True

    messages = Message.objects.filter(mailing=mailing)
    by_client = {name for name, c in directory.items() if messages.filter(client=c).exists()}
    assert by_client == expected
    assert all(m.status == MessageStatus.PENDING and m.attempts == 0 for m in messages)
    assert all(m.client is not None and m.phone == m.client.phone for m in messages)
    mailing.refresh_from_db()
    assert mailing.status == (MailingStatus.RUNNING if expected else MailingStatus.FINISHED)


def test_launch_is_idempotent(directory: dict[str, Client]) -> None:
    mailing = due_mailing()

    first = services.mailing_launch(mailing_id=mailing.pk)
    second = services.mailing_launch(mailing_id=mailing.pk)

    assert (first, second) == (True, False)
    assert Message.objects.filter(mailing=mailing).count() == len(directory)


def message_inserts(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"] for q in queries.captured_queries if "INSERT INTO mailings_message" in q["sql"]
    ]


def test_a_launch_writes_its_messages_with_a_plain_insert(directory: dict[str, Client]) -> None:
    """Chunks do not overlap, so no row pays for ON CONFLICT (a fifth of the fan-out)."""
    mailing = due_mailing()

    with CaptureQueriesContext(connection) as queries:
        services.mailing_launch(mailing_id=mailing.pk)

    inserts = message_inserts(queries)
    assert len(inserts) == 1
    assert "ON CONFLICT" not in inserts[0]
    assert Message.objects.filter(mailing=mailing).count() == len(directory)


def test_a_launch_keeps_a_message_that_exists_and_creates_the_others(
    directory: dict[str, Client],
) -> None:
    """Should a client have a message of the mailing already, the chunk is written again
    around it: the launch neither fails nor touches it."""
    mailing = due_mailing()
    existing = MessageFactory.create(
        mailing=mailing, client=directory["new_900"], status=MessageStatus.SENT, attempts=1
    )

    with CaptureQueriesContext(connection) as queries:
        assert services.mailing_launch(mailing_id=mailing.pk) is True

    assert ["ON CONFLICT" in sql for sql in message_inserts(queries)] == [False, True]
    messages = Message.objects.filter(mailing=mailing)
    assert sorted(messages.values_list("client_id", flat=True)) == sorted(
        client.pk for client in directory.values()
    )
    kept = messages.get(client=directory["new_900"])
    assert (kept.pk, kept.status, kept.attempts) == (existing.pk, MessageStatus.SENT, 1)
    assert messages.exclude(pk=existing.pk).filter(status=MessageStatus.PENDING).count() == 3
    # The statistics count what is there: the insert that failed left no count behind.
    counts = selectors.message_counts(mailing_ids=[mailing.pk])[mailing.pk]
    assert counts["total"] == 4
    assert (counts["by_status"]["sent"], counts["by_status"]["pending"]) == (1, 3)
    mailing.refresh_from_db()
    assert mailing.launched_at is not None


def test_launch_chunks_double_from_the_first_up_to_the_largest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A small first chunk starts the sending; the next ones grow, so the dispatchers do not
    wait for one large chunk to commit; every client gets its message once."""
    from mailings.services import lifecycle

    monkeypatch.setattr(lifecycle, "LAUNCH_FIRST_CHUNK", 1)
    monkeypatch.setattr(lifecycle, "LAUNCH_CHUNK", 4)
    created = ClientFactory.create_batch(12)
    mailing = due_mailing()
    chunks: list[tuple[int, int]] = []
    create = lifecycle.messages_create

    def recorded(**kwargs: object) -> tuple[int, int | None]:
        made, last = create(**kwargs)  # type: ignore[arg-type]
        chunks.append((kwargs["limit"], made))  # type: ignore[arg-type]
        return made, last

    monkeypatch.setattr(lifecycle, "messages_create", recorded)

    assert services.mailing_launch(mailing_id=mailing.pk) is True

    # (the last, empty chunk finds no client left: the launch is complete)
    assert chunks == [(1, 1), (2, 2), (4, 4), (4, 4), (4, 1), (4, 0)]
    assert sorted(Message.objects.filter(mailing=mailing).values_list("client_id", flat=True)) == (
        sorted(client.pk for client in created)
    )


def test_launch_waits_for_the_start_time(directory: dict[str, Client]) -> None:
    mailing = MailingFactory.create()  # starts in an hour

    assert services.mailing_launch(mailing_id=mailing.pk) is False
    assert selectors.mailings_due_for_launch() == []
    mailing.refresh_from_db()
    assert mailing.status == MailingStatus.SCHEDULED


def test_clients_added_after_the_launch_are_not_included(directory: dict[str, Client]) -> None:
    mailing = due_mailing()
    services.mailing_launch(mailing_id=mailing.pk)

    ClientFactory.create(phone="79005555555")
    services.mailing_launch(mailing_id=mailing.pk)

    assert Message.objects.filter(mailing=mailing).count() == len(directory)


def test_tick_launches_due_mailings_and_finishes_ended_ones(
    directory: dict[str, Client], monkeypatch: pytest.MonkeyPatch, steady_scheduler: None
) -> None:
    dispatches: list[None] = []
    monkeypatch.setattr(tasks.dispatch, "delay", lambda: dispatches.append(None))
    due = due_mailing()
    ended = MailingFactory.create(
        status=MailingStatus.RUNNING,
        start_at=timezone.now() - timedelta(hours=2),
        end_at=timezone.now() - timedelta(seconds=1),
    )
    pending = MessageFactory.create(mailing=ended, status=MessageStatus.PENDING)
    sent = MessageFactory.create(mailing=ended, status=MessageStatus.SENT)
    live_lease = MessageFactory.create(
        mailing=ended,
        status=MessageStatus.SENDING,
        lease_expires_at=timezone.now() + timedelta(seconds=30),
    )

    tasks.tick()

    due.refresh_from_db()
    assert due.status == MailingStatus.RUNNING
    assert dispatches  # the launched mailing has due messages: a dispatcher is asked for
    pending.refresh_from_db()
    sent.refresh_from_db()
    assert pending.status == MessageStatus.EXPIRED
    assert sent.status == MessageStatus.SENT
    ended.refresh_from_db()
    assert ended.status == MailingStatus.RUNNING  # one request is still in flight

    Message.objects.filter(pk=live_lease.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    tasks.tick()

    live_lease.refresh_from_db()
    ended.refresh_from_db()
    assert live_lease.status == MessageStatus.EXPIRED
    assert ended.status == MailingStatus.FINISHED
    assert ended.finished_at is not None


def test_a_mailing_whose_whole_period_passed_unlaunched_expires_every_message(
    directory: dict[str, Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks.dispatch, "delay", lambda: None)
    now = timezone.now()
    mailing = MailingFactory.create(
        start_at=now - timedelta(hours=2), end_at=now - timedelta(hours=1)
    )

    tasks.tick()

    mailing.refresh_from_db()
    assert mailing.status == MailingStatus.FINISHED
    statuses = set(Message.objects.filter(mailing=mailing).values_list("status", flat=True))
    assert statuses == {MessageStatus.EXPIRED}
    assert Message.objects.filter(mailing=mailing).count() == len(directory)


def test_a_paused_mailing_still_ends_at_its_end_time(
    directory: dict[str, Client], monkeypatch: pytest.MonkeyPatch, steady_scheduler: None
) -> None:
    monkeypatch.setattr(tasks.dispatch, "delay", lambda: None)
    mailing = due_mailing()
    services.mailing_launch(mailing_id=mailing.pk)
    services.mailing_pause(mailing=mailing)
    Mailing.objects.filter(pk=mailing.pk).update(end_at=timezone.now() - timedelta(seconds=1))

    tasks.tick()

    mailing.refresh_from_db()
    assert mailing.status == MailingStatus.FINISHED
    statuses = set(Message.objects.filter(mailing=mailing).values_list("status", flat=True))
    assert statuses == {MessageStatus.EXPIRED}
