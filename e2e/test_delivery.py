"""End to end: real web server, Celery worker and beat, and the gateway emulator, over real
sockets, against the test database (PostgreSQL or SQLite) and broker (Redis or filesystem)."""

from __future__ import annotations

import re
import statistics
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from clients.models import Client
from e2e.api import Api, api_as_new_user
from e2e.stack import Stack, wait_until
from mailings.models import Mailing, MailingStatus, Message, MessageStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def make_clients(n: int, *, prefix: str = "7900", **fields: Any) -> list[Client]:
    start = Client.objects.count()
    return Client.objects.bulk_create(
        [
            Client(phone=f"{prefix}{start + i:07d}", operator_code=prefix[1:4], **fields)
            for i in range(n)
        ]
    )


def api_for(live: Stack) -> Api:
    return api_as_new_user(live.web_url, "e2e", "e2e-password-1")


def create_mailing(
    api: Api, text: str, *, start: datetime | None = None, end: datetime | None = None, **extra: Any
) -> dict[str, Any]:
    start = start or datetime.now(UTC)
    end = end or start + timedelta(hours=1)
    body = {"text": text, "start_at": start.isoformat(), "end_at": end.isoformat(), **extra}
    return api.call("POST", "/api/mailings/", body)


def start_slow_mailing(
    live: Stack, n: int, text: str, *, latency_ms: int, jitter: float = 0.2, until: int = 100
) -> tuple[Api, dict[str, Any]]:
    """``n`` new clients, a gateway answering in ``latency_ms``, a mailing to them started
    now; returns once ``until`` of its messages arrived."""
    make_clients(n)
    api = api_for(live)
    live.faults(latency_ms=latency_ms, latency_jitter=jitter)
    created = create_mailing(api, text)
    wait_until(lambda: len(live.deliveries(text)) >= until, timeout=30)
    return api, created


def wait_finished(mailing_id: int, timeout: float) -> Mailing:
    return wait_until(
        lambda: Mailing.objects.filter(pk=mailing_id, status=MailingStatus.FINISHED).first(),
        timeout=timeout,
        interval=0.25,
        what=f"mailing {mailing_id} to finish",
    )


def counts(mailing_id: int) -> dict[str, int]:
    result: dict[str, int] = {}
    for status in Message.objects.filter(mailing_id=mailing_id).values_list("status", flat=True):
        result[status] = result.get(status, 0) + 1
    return result


def sent_metric(live: Stack) -> float:
    """``mailing_messages_total{outcome="sent"}`` as the web server reports it, summed over
    every worker process through PROMETHEUS_MULTIPROC_DIR."""
    with urllib.request.urlopen(f"{live.web_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    match = re.search(r'^mailing_messages_total\{outcome="sent"\} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_immediate_start_delivers_to_exactly_the_filtered_clients_once(live: Stack) -> None:
    targets = make_clients(30, prefix="7900", tag="vip")
    make_clients(20, prefix="7900", tag="other")
    make_clients(20, prefix="7916", tag="vip")
    api = api_for(live)
    sent_before = sent_metric(live)

    created = create_mailing(api, "Only VIPs of 900", filter={"operator_code": "900", "tag": "vip"})
    mailing = wait_finished(created["id"], timeout=30)

    deliveries = live.deliveries("Only VIPs of 900")
    assert sorted(d["phone"] for d in deliveries) == sorted(int(c.phone) for c in targets)
    message_ids = set(Message.objects.filter(mailing=mailing).values_list("id", flat=True))
    assert {d["id"] for d in deliveries} == message_ids
    assert live.gateway_stats()["duplicates"] == 0
    first = min(d["at"] for d in deliveries)
    assert first - datetime.fromisoformat(created["start_at"]).timestamp() <= 2.0
    stats = api.call("GET", f"/api/mailings/{mailing.pk}/message_statistics/")
    assert stats["by_status"]["sent"] == len(deliveries) == 30
    # The metric counts the same deliveries, whichever worker process made them.
    assert sent_metric(live) - sent_before == 30
    print(
        f"\nimmediate start: first delivery {first - mailing.start_at.timestamp():.2f}s after start"
    )


def test_a_future_mailing_starts_by_itself_within_two_seconds(live: Stack) -> None:
    make_clients(10)
    api = api_for(live)
    start = datetime.now(UTC) + timedelta(seconds=3)

    created = create_mailing(api, "Later", start=start)
    assert created["status"] == "scheduled"
    wait_finished(created["id"], timeout=30)

    first = min(d["at"] for d in live.deliveries("Later"))
    lag = first - start.timestamp()
    print(f"\nfuture start: first delivery {lag:.2f}s after start_at")
    assert 0 <= lag <= 2.0


def test_thirty_percent_faults_of_every_kind_deliver_everything_exactly_once(live: Stack) -> None:
    make_clients(300)
    api = api_for(live)
    live.faults(
        error_rate=0.1,
        garbage_rate=0.1,
        rate_limit_rate=0.05,
        hang_rate=0.05,
        hang_seconds=3,
        retry_after=0.2,
        latency_ms=20,
    )

    created = create_mailing(api, "Faulty gateway")
    wait_finished(created["id"], timeout=120)

    stats = live.gateway_stats()
    print(f"\n30% faults: {stats}")
    assert (stats["delivered"], stats["unique"], stats["duplicates"]) == (300, 300, 0)
    assert sum(stats["faults"].values()) >= 60
    assert counts(created["id"]) == {"sent": 300}
    overall = api.call("GET", "/api/mailings/statistics/")
    assert overall["messages"]["by_status"]["sent"] == stats["delivered"]


def test_a_gateway_outage_does_not_slow_the_api_and_everything_is_delivered_after(
    live: Stack,
) -> None:
    make_clients(200)
    api = api_for(live)
    live.faults(outage=True)
    created = create_mailing(api, "Through an outage")
    wait_until(
        lambda: Mailing.objects.filter(pk=created["id"], status=MailingStatus.RUNNING).exists(),
        timeout=10,
    )

    latencies: list[float] = []
    outage_ends = time.monotonic() + 20
    n = 0
    while time.monotonic() < outage_ends:
        status, _, took = api.timed("GET", "/api/clients/?page_size=50")
        assert status == 200
        latencies.append(took)
        status, _, took = api.timed("POST", "/api/clients/", {"phone": f"7999{n:07d}"})
        assert status == 201
        latencies.append(took)
        status, _, took = api.timed("GET", f"/api/mailings/{created['id']}/")
        assert status == 200
        latencies.append(took)
        n += 1
    live.faults(outage=False)
    p95 = statistics.quantiles(latencies, n=20)[-1]
    print(f"\noutage: {len(latencies)} API calls, p95 {p95 * 1000:.1f} ms")
    assert live.gateway_stats()["faults"].get("outage", 0) > 0
    assert p95 < 0.100

    wait_finished(created["id"], timeout=60)
    stats = live.gateway_stats()
    assert (stats["delivered"], stats["duplicates"]) == (200, 0)


def test_nothing_is_sent_after_the_end_time_and_the_rest_expire(live: Stack) -> None:
    make_clients(1500)
    api = api_for(live)
    live.faults(latency_ms=1000, latency_jitter=0.1)
    start = datetime.now(UTC)
    end = start + timedelta(seconds=3)

    created = create_mailing(api, "Short-lived", start=start, end=end)
    mailing = wait_finished(created["id"], timeout=30)

    deliveries = live.deliveries("Short-lived")
    by_status = counts(mailing.pk)
    print(f"\nend time: {by_status}")
    assert deliveries, "some messages should go out before the end"
    assert max(d["at"] for d in deliveries) < end.timestamp()
    assert by_status.get("expired", 0) > 0
    assert by_status.get("sent", 0) == len(deliveries)
    assert set(by_status) <= {"sent", "expired"}


def test_the_send_window_is_kept_in_each_clients_zone(live: Stack) -> None:
    now = timezone.now()
    # A window open now in UTC and in Moscow (UTC+3) but not in Tokyo (UTC+9):
    # from 1 hour before UTC-now to 4 hours after it, in local time.
    start = (now - timedelta(hours=1)).astimezone(UTC).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=4)).astimezone(UTC).time().replace(second=0, microsecond=0)
    utc = make_clients(5, prefix="7901", timezone="UTC")
    moscow = make_clients(5, prefix="7902", timezone="Europe/Moscow")
    tokyo = make_clients(5, prefix="7903", timezone="Asia/Tokyo")
    api = api_for(live)
    window = {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}

    created = create_mailing(
        api, "Windowed", end=datetime.now(UTC) + timedelta(days=2), send_window=window
    )
    wait_until(
        lambda: len(live.deliveries("Windowed")) >= 5,
        timeout=30,
        what="the open zone's deliveries",
    )
    time.sleep(2)

    delivered = {d["phone"] for d in live.deliveries("Windowed")}
    local = {
        zone: (now.astimezone(ZoneInfo(zone)).time(), {int(c.phone) for c in group})
        for zone, group in (("UTC", utc), ("Europe/Moscow", moscow), ("Asia/Tokyo", tokyo))
    }
    for zone, (local_now, phones) in local.items():
        inside = (
            start <= local_now < end if start < end else (local_now >= start or local_now < end)
        )
        assert (phones <= delivered) is inside, zone
        assert not (phones & delivered) or inside, zone
    waiting = Message.objects.filter(mailing_id=created["id"], status=MessageStatus.PENDING)
    for message in waiting:
        assert message.next_attempt_at is not None
        assert message.next_attempt_at > now


def stop_mid_run(live: Stack, text: str, method: str, action: str) -> dict[str, Any]:
    """Start a mailing to 3,000 clients through a slow gateway, stop it mid-run with
    ``method action`` and report what reached the gateway after the answer."""
    api, created = start_slow_mailing(live, 3000, text, latency_ms=300)

    in_flight = Message.objects.filter(
        mailing_id=created["id"], status=MessageStatus.SENDING
    ).count()
    status, answer, _ = api.timed(method, action.format(id=created["id"]))
    returned_at = time.time()
    time.sleep(3)
    deliveries = live.deliveries(text)
    late = [d for d in deliveries if d["at"] > returned_at]
    time.sleep(1)
    return {
        "id": created["id"],
        "status": status,
        "answer": answer,
        "in_flight": in_flight,
        "delivered": len(deliveries),
        "late": late,
        "lag": max((d["at"] - returned_at for d in late), default=0.0),
        "delivered_later": len(live.deliveries(text)),
    }


def test_cancel_mid_run_stops_sending_before_it_returns(live: Stack) -> None:
    run = stop_mid_run(live, "Cancelled mid-run", "POST", "/api/mailings/{id}/cancel_mailing/")

    assert (run["status"], run["answer"]["status"]) == (200, "cancelled")
    print(
        f"\ncancel: {run['delivered']} delivered, {len(run['late'])} claimed before the "
        f"answer arrived after it (at most {run['lag'] * 1000:.0f} ms after; "
        f"{run['in_flight']} in flight)"
    )
    # Only requests already in flight may still arrive: none is started after the answer.
    assert len(run["late"]) <= run["in_flight"]
    assert run["delivered_later"] == run["delivered"]
    by_status = counts(run["id"])
    assert by_status.get("sent", 0) == run["delivered"]
    assert set(by_status) <= {"sent", "cancelled"}


def test_delete_mid_run_stops_sending(live: Stack) -> None:
    run = stop_mid_run(live, "Deleted mid-run", "DELETE", "/api/mailings/{id}/")

    assert run["status"] == 204
    assert len(run["late"]) <= run["in_flight"]
    assert run["delivered_later"] == run["delivered"]
    assert not Message.objects.filter(mailing_id=run["id"]).exists()


def test_a_worker_killed_mid_batch_loses_nothing(live: Stack) -> None:
    _, created = start_slow_mailing(live, 1500, "Survives a crash", latency_ms=400)

    worker = next(name for name in live.procs if name.startswith("worker"))
    live.kill(worker)  # SIGKILL to the whole worker: no cleanup runs
    in_flight = set(
        Message.objects.filter(mailing_id=created["id"], status=MessageStatus.SENDING).values_list(
            "id", flat=True
        )
    )
    live.start_worker(f"{worker}-restarted")
    wait_finished(created["id"], timeout=90)

    deliveries = live.deliveries("Survives a crash")
    ids = [d["id"] for d in deliveries]
    duplicates = {i for i in ids if ids.count(i) > 1}
    print(f"\nworker killed: {len(in_flight)} in flight, {len(duplicates)} sent twice")
    assert len(set(ids)) == 1500
    assert duplicates <= in_flight
    assert counts(created["id"]) == {"sent": 1500}


def test_a_broker_restart_mid_mailing_loses_nothing(live: Stack) -> None:
    _, created = start_slow_mailing(live, 1500, "Survives the broker", latency_ms=300)

    if live.redis_port is not None:
        live.restart_redis(down_seconds=2)
    else:
        live.flush_filesystem_broker()
    wait_finished(created["id"], timeout=120)

    stats = live.gateway_stats()
    assert (stats["unique"], stats["duplicates"]) == (1500, 0)
    assert counts(created["id"]) == {"sent": 1500}
