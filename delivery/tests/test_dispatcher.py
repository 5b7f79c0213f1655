"""The dispatcher in this process, against the real database and the emulator on a socket."""

from __future__ import annotations

import threading
import time as time_module
import uuid
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from clients.models import Client
from clients.tests.factories import ClientFactory
from delivery.dispatcher import dispatch_run
from delivery.models import Circuit, GatewayState
from emulator.thread import EmulatorThread
from mailings import messages
from mailings import services as mailing_services
from mailings.models import Mailing, MailingStatus, Message, MessageStatus
from mailings.tests.factories import MailingFactory

pytestmark = pytest.mark.django_db(transaction=True)


def launch(n_clients: int, **mailing_fields: Any) -> Mailing:
    for i in range(n_clients):
        ClientFactory.create(phone=f"7916{i:07d}", **mailing_fields.pop("client_fields", {}))
    now = timezone.now()
    fields = {"start_at": now - timedelta(seconds=1), "end_at": now + timedelta(hours=1)}
    mailing = MailingFactory.create(text="Hello from the test", **{**fields, **mailing_fields})
    assert mailing_services.mailing_launch(mailing_id=mailing.pk)
    return mailing


def run_until_settled(mailing: Mailing, *, rounds: int = 40) -> None:
    """Dispatch (as the scheduler would) until no message of the mailing is undelivered."""
    for _ in range(rounds):
        messages.messages_recover_lapsed()
        dispatch_run()
        if not Message.objects.filter(
            mailing=mailing, status__in=[MessageStatus.PENDING, MessageStatus.SENDING]
        ).exists():
            return
    raise AssertionError("messages are still undelivered")


def statuses(mailing: Mailing) -> dict[str, int]:
    result: dict[str, int] = {}
    for status in Message.objects.filter(mailing=mailing).values_list("status", flat=True):
        result[status] = result.get(status, 0) + 1
    return result


def test_every_message_is_delivered_once_with_the_right_body(emulator: EmulatorThread) -> None:
    mailing = launch(50)

    run_until_settled(mailing)

    assert statuses(mailing) == {"sent": 50}
    stats = emulator.stats.as_dict()
    assert (stats["delivered"], stats["duplicates"]) == (50, 0)
    by_id = {d.id: d for d in emulator.stats.deliveries}
    for message in Message.objects.filter(mailing=mailing):
        assert by_id[message.pk].phone == int(message.phone)
        assert by_id[message.pk].text == "Hello from the test"
        assert message.attempts == 1
        assert message.sent_at is not None


def test_thirty_percent_faults_of_every_kind_still_deliver_everything_once(
    emulator: EmulatorThread,
) -> None:
    emulator.faults.update(
        {
            "error_rate": 0.1,
            "garbage_rate": 0.1,
            "rate_limit_rate": 0.05,
            "hang_rate": 0.05,
            "hang_seconds": 2,
            "retry_after": 0,
        }
    )
    mailing = launch(200)

    run_until_settled(mailing, rounds=60)

    assert statuses(mailing) == {"sent": 200}
    stats = emulator.stats.as_dict()
    assert (stats["delivered"], stats["unique"], stats["duplicates"]) == (200, 200, 0)
    assert sum(stats["faults"].values()) > 30
    print(f"\n30% faults: {stats}")


def test_a_permanent_error_fails_the_message_after_one_attempt(emulator: EmulatorThread) -> None:
    emulator.faults.update({"reject_rate": 1.0})
    mailing = launch(3)

    run_until_settled(mailing)

    for message in Message.objects.filter(mailing=mailing):
        assert (message.status, message.attempts) == (MessageStatus.FAILED, 1)
        assert "400" in message.last_error
    assert emulator.stats.requests == 3


def test_transient_errors_spend_the_attempt_budget_then_fail(
    emulator: EmulatorThread, settings: Any
) -> None:
    settings.DELIVERY_MAX_ATTEMPTS = 3
    settings.BREAKER_FAILURE_THRESHOLD = 1000
    emulator.faults.update({"error_rate": 1.0})
    mailing = launch(2)

    run_until_settled(mailing)

    for message in Message.objects.filter(mailing=mailing):
        assert (message.status, message.attempts) == (MessageStatus.FAILED, 3)
        assert "after 3 attempts" in message.last_error
    assert emulator.stats.requests == 6


def test_a_429_spends_no_attempt(emulator: EmulatorThread, settings: Any) -> None:
    settings.DELIVERY_MAX_ATTEMPTS = 2
    emulator.faults.update({"rate_limit_rate": 1.0, "retry_after": 0})
    mailing = launch(2)

    for _ in range(4):
        dispatch_run(budget_seconds=0.3)
    assert set(Message.objects.filter(mailing=mailing).values_list("status", "attempts")) == {
        (MessageStatus.PENDING, 0)
    }
    assert emulator.stats.requests >= 8

    emulator.faults.update({"rate_limit_rate": 0.0})
    run_until_settled(mailing)
    assert statuses(mailing) == {"sent": 2}


def test_wrong_credentials_pause_sending_and_blame_no_message(
    emulator: EmulatorThread, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from delivery import breaker

    settings.GATEWAY_TOKEN = "wrong-token"
    mailing = launch(5)
    records: list[breaker.Tally] = []
    record = breaker.record

    def recorded(*, tally: breaker.Tally) -> None:
        records.append(tally)
        record(tally=tally)

    monkeypatch.setattr(breaker, "record", recorded)
    started = time_module.monotonic()

    dispatch_run(max_in_flight=1)

    # The 401 is recorded once, and the dispatcher ends (it once wrote the row again on
    # every turn of its loop until its budget ended).
    assert [tally.credentials_error for tally in records] == [True]
    assert time_module.monotonic() - started < settings.DISPATCH_TASK_SECONDS

    state = GatewayState.objects.get()
    assert (state.circuit, state.pause_reason) == (Circuit.OPEN, "credentials")
    assert state.paused_until is not None and state.paused_until > timezone.now()
    assert emulator.stats.requests == 1  # sending stopped at the first 401
    assert set(Message.objects.filter(mailing=mailing).values_list("status", "attempts")) == {
        (MessageStatus.PENDING, 0)
    }
    requests_before = emulator.stats.requests
    dispatch_run()
    assert emulator.stats.requests == requests_before  # paused: nothing is sent


def test_the_breaker_opens_on_repeated_failures_then_probes_and_closes(
    emulator: EmulatorThread, settings: Any
) -> None:
    settings.BREAKER_FAILURE_THRESHOLD = 5
    settings.BREAKER_RESET_SECONDS = 0.3
    emulator.faults.update({"error_rate": 1.0})
    mailing = launch(30)

    dispatch_run(max_in_flight=1)

    state = GatewayState.objects.get()
    assert (state.circuit, state.pause_reason) == (Circuit.OPEN, "circuit")
    assert emulator.stats.requests == 5
    attempts = sum(Message.objects.filter(mailing=mailing).values_list("attempts", flat=True))
    assert attempts == 5  # the paused messages spent nothing

    emulator.faults.update({"error_rate": 0.0})
    dispatch_run()  # still paused: nothing sent
    assert emulator.stats.requests == 5

    GatewayState.objects.update(paused_until=timezone.now())
    run_until_settled(mailing)
    assert GatewayState.objects.get().circuit == Circuit.CLOSED
    assert statuses(mailing) == {"sent": 30}


def test_messages_wait_for_their_clients_window(emulator: EmulatorThread) -> None:
    now = timezone.now()
    open_zone, closed_zone = "UTC", "Asia/Tokyo"
    # A window around now in UTC: open there; Tokyo is 9 hours ahead, so it is closed there.
    start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    ClientFactory.create(phone="79160000001", timezone=open_zone)
    ClientFactory.create(phone="79160000002", timezone=closed_zone)
    mailing = MailingFactory.create(
        start_at=now - timedelta(seconds=1),
        end_at=now + timedelta(days=2),
        send_window_start=start,
        send_window_end=end,
    )
    mailing_services.mailing_launch(mailing_id=mailing.pk)

    dispatch_run()

    sent = Message.objects.get(mailing=mailing, client__timezone=open_zone)
    waiting = Message.objects.get(mailing=mailing, client__timezone=closed_zone)
    assert sent.status == MessageStatus.SENT
    assert (waiting.status, waiting.attempts) == (MessageStatus.PENDING, 0)
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at > now
    local_opening = waiting.next_attempt_at.astimezone(ZoneInfo(closed_zone)).time()
    assert local_opening == time(start.hour, start.minute)
    assert [d.phone for d in emulator.stats.deliveries] == [79160000001]


def test_a_window_that_does_not_open_before_the_end_expires_the_message(
    emulator: EmulatorThread,
) -> None:
    now = timezone.now()
    ClientFactory.create(phone="79160000001", timezone="UTC")
    closed_from = (now + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    closed_to = (now + timedelta(hours=3)).time().replace(second=0, microsecond=0)
    mailing = MailingFactory.create(
        start_at=now - timedelta(seconds=1),
        end_at=now + timedelta(hours=1),
        send_window_start=closed_from,
        send_window_end=closed_to,
    )
    mailing_services.mailing_launch(mailing_id=mailing.pk)

    assert statuses(mailing) == {"expired": 1}
    assert emulator.stats.requests == 0


def test_a_dead_dispatchers_messages_are_sent_again_with_the_same_msgid(
    emulator: EmulatorThread,
) -> None:
    mailing = launch(3)
    message = Message.objects.filter(mailing=mailing).first()
    assert message is not None
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    run_until_settled(mailing)

    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
    assert sorted(d.id for d in emulator.stats.deliveries) == sorted(
        Message.objects.filter(mailing=mailing).values_list("id", flat=True)
    )


def test_outcomes_of_a_cancelled_mailing_do_not_bring_messages_back(
    emulator: EmulatorThread,
) -> None:
    mailing = launch(1)
    message = Message.objects.get(mailing=mailing)
    token = uuid.uuid4()
    claimed = messages.messages_claim(limit=10, token=token)
    assert [m.id for m in claimed] == [message.pk]

    mailing_services.mailing_cancel(mailing=mailing)  # while the request is "in flight"
    retry = messages.MessageOutcome(
        claimed[0].id, MessageStatus.PENDING, 1, timezone.now(), "503 from the gateway"
    )
    messages.messages_record_outcomes(token=token, outcomes=[retry])

    message.refresh_from_db()
    assert message.status == MessageStatus.CANCELLED


def test_a_claim_takes_the_longest_due_first_under_its_lease(emulator: EmulatorThread) -> None:
    mailing = launch(6)
    now = timezone.now()
    ids = list(Message.objects.filter(mailing=mailing).values_list("id", flat=True))
    for age, message_id in enumerate(ids):  # the last created is the longest due
        Message.objects.filter(id=message_id).update(next_attempt_at=now - timedelta(minutes=age))
    token = uuid.uuid4()

    claimed = messages.messages_claim(limit=4, token=token, now=now)

    assert [m.id for m in claimed] == sorted(ids, reverse=True)[:4]
    taken = Message.objects.filter(status=MessageStatus.SENDING, lease_token=token)
    assert sorted(taken.values_list("id", flat=True)) == sorted(m.id for m in claimed)
    assert all(m.lease_expires_at is not None and m.lease_expires_at > now for m in taken)
    assert statuses(mailing) == {"sending": 4, "pending": 2}
    first = claimed[0]
    assert (first.phone, first.text, first.attempts) == (
        Message.objects.get(id=first.id).phone,
        "Hello from the test",
        0,
    )


def test_a_claim_never_takes_messages_of_a_cancelled_mailing(emulator: EmulatorThread) -> None:
    mailing = launch(3)
    Mailing.objects.filter(pk=mailing.pk).update(status=MailingStatus.CANCELLED)

    assert messages.messages_claim(limit=10, token=uuid.uuid4()) == []


def test_two_dispatchers_never_send_a_message_twice(emulator: EmulatorThread) -> None:
    emulator.faults.update({"latency_ms": 20})
    mailing = launch(300)
    threads = [
        threading.Thread(target=dispatch_run, kwargs={"max_in_flight": 50}) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run_until_settled(mailing)

    stats = emulator.stats.as_dict()
    assert (stats["delivered"], stats["duplicates"]) == (300, 0)
    assert statuses(mailing) == {"sent": 300}
    assert Client.objects.count() == 300


def test_a_phone_not_in_ascii_digits_fails_without_a_request(emulator: EmulatorThread) -> None:
    # Left by the clients migration 0002 when its ASCII form is another client's number.
    Client.objects.create(
        phone="7\u0669\u0660\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667", operator_code="900"
    )
    mailing = launch(0)

    run_until_settled(mailing)

    message = Message.objects.get(mailing=mailing)
    assert message.status == MessageStatus.FAILED
    assert message.last_error.startswith("the phone is not in ASCII digits")
    assert emulator.stats.as_dict()["requests"] == 0


def test_metrics_counted_per_batch_match_the_requests_and_outcomes(
    emulator: EmulatorThread,
) -> None:
    from prometheus_client import REGISTRY

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = {
        "success": sample("mailing_gateway_attempts_total", result="success"),
        "transient": sample("mailing_gateway_attempts_total", result="transient"),
        "sent": sample("mailing_messages_total", outcome="sent"),
        "retry": sample("mailing_messages_total", outcome="retry"),
        "answers": sample("mailing_gateway_request_duration_seconds_count"),
    }
    emulator.faults.update({"error_rate": 0.3})
    mailing = launch(40)

    run_until_settled(mailing)

    stats = emulator.stats.as_dict()
    errors = stats["faults"]["error"]
    assert errors > 0
    assert sample("mailing_gateway_attempts_total", result="success") - before["success"] == 40
    assert sample("mailing_gateway_attempts_total", result="transient") - before["transient"] == (
        errors
    )
    assert sample("mailing_messages_total", outcome="sent") - before["sent"] == 40
    assert sample("mailing_messages_total", outcome="retry") - before["retry"] == errors
    assert sample("mailing_gateway_in_flight") == 0  # set from the dispatcher's own count
    # Every request's answer time, noted by the dispatcher and written with its flushes.
    answers = sample("mailing_gateway_request_duration_seconds_count") - before["answers"]
    assert answers == 40 + errors


def test_a_claim_takes_higher_priority_first_and_shares_evenly_within_a_priority() -> None:
    now = timezone.now()
    window = {"start_at": now - timedelta(seconds=1), "end_at": now + timedelta(hours=1)}
    for i in range(30):
        ClientFactory.create(phone=f"7916{i:07d}")
    low, normal_a, normal_b = (
        MailingFactory.create(text=name, priority=priority, **window)
        for name, priority in (("low", "low"), ("a", "normal"), ("b", "normal"))
    )
    for mailing in (low, normal_a, normal_b):
        assert mailing_services.mailing_launch(mailing_id=mailing.pk)

    first = messages.messages_claim(limit=10, token=uuid.uuid4())
    by_mailing = {m: sum(1 for c in first if c.mailing_id == m) for m in (normal_a.pk, normal_b.pk)}
    assert by_mailing == {normal_a.pk: 5, normal_b.pk: 5}  # an even share, none of the low
    assert {c.text for c in first} == {"a", "b"}

    rest = messages.messages_claim(limit=100, token=uuid.uuid4())
    assert [c.mailing_id for c in rest][:50] == sorted([normal_a.pk] * 25 + [normal_b.pk] * 25)
    assert [c.mailing_id for c in rest][50:] == [low.pk] * 30  # low priority comes last
    assert Message.objects.filter(status=MessageStatus.SENDING).count() == 90


def test_a_slow_gateway_gets_a_wider_window_and_everything_once(
    emulator: EmulatorThread,
) -> None:
    """At 100 ms a request, 128 in flight would cap a dispatcher near 1,300 msg/s: the
    window grows while its requests wait on the gateway."""
    emulator.faults.update({"latency_ms": 100.0, "latency_jitter": 0.0})
    mailing = launch(600)

    report = dispatch_run(max_in_flight=1000)

    assert report is not None
    assert report.window > 128
    assert statuses(mailing) == {"sent": 600}
    assert emulator.stats.as_dict()["duplicates"] == 0


def test_claimed_messages_not_yet_started_go_back_unspent_when_the_gateway_keeps_failing(
    emulator: EmulatorThread, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from delivery import dispatcher
    from delivery.dispatcher import RELEASED_UNSTARTED

    settings.BREAKER_FAILURE_THRESHOLD = 20
    emulator.faults.update({"error_rate": 1.0})
    # The loop once spun without yielding to its last write until the slot's renewal.
    monkeypatch.setattr(dispatcher, "SLOT_RENEW_SECONDS", 60.0)
    mailing = launch(600)
    started = time_module.monotonic()

    report = dispatch_run(max_in_flight=1000)  # claims all 600; 128 fly at first

    assert time_module.monotonic() - started < 30  # it ends once its outcomes are written
    assert report is not None
    assert report.claimed == 600
    assert emulator.stats.requests < 600
    unspent = Message.objects.filter(
        mailing=mailing, status=MessageStatus.PENDING, attempts=0, last_error=RELEASED_UNSTARTED
    )
    assert unspent.count() == 600 - emulator.stats.requests
    assert not unspent.filter(next_attempt_at__isnull=True).exists()  # due again, not lost
    assert report.outcomes["released"] == unspent.count()


def test_messages_waiting_for_the_rate_go_back_unspent_too_when_the_gateway_keeps_failing(
    emulator: EmulatorThread, settings: Any
) -> None:
    """Under a limit of 10 a second a dispatcher claims two seconds' worth (20) and may start
    the burst (10); when those fail, the 10 still waiting for their turn must not follow."""
    from delivery.dispatcher import RELEASED_UNSTARTED

    settings.GATEWAY_RATE = 10
    settings.GATEWAY_BURST = 10
    settings.BREAKER_FAILURE_THRESHOLD = 5
    emulator.faults.update({"error_rate": 1.0})
    mailing = launch(20)

    report = dispatch_run(max_in_flight=1000)

    assert report is not None
    assert report.claimed == 20
    sent = emulator.stats.requests
    assert sent <= 12  # the burst, and at most a token or two that came meanwhile
    unspent = Message.objects.filter(
        mailing=mailing, status=MessageStatus.PENDING, attempts=0, last_error=RELEASED_UNSTARTED
    )
    assert unspent.count() == 20 - sent
