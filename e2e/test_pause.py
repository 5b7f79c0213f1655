"""Pause and resume on real processes (SPEC 8.5): no request of a paused mailing starts
after the answer, resume continues exactly the pending messages, every message goes once."""

from __future__ import annotations

import signal
import time

from e2e.stack import Stack, wait_until
from e2e.test_delivery import (
    api_for,
    counts,
    create_mailing,
    make_clients,
    stop_mid_run,
    wait_finished,
)
from mailings.models import Message, MessageStatus


def unique_and_repeated(live: Stack, text: str) -> tuple[int, int]:
    ids = [d["id"] for d in live.deliveries(text)]
    return len(set(ids)), len(ids) - len(set(ids))


def test_pause_stops_new_requests_and_resume_sends_the_rest_once(live: Stack) -> None:
    run = stop_mid_run(live, "Paused mid-run", "POST", "/api/mailings/{id}/pause_mailing/")

    assert (run["status"], run["answer"]["status"]) == (200, "paused")
    assert run["answer"]["paused_reason"] == "operator"
    print(
        f"\npause: {run['delivered']} delivered, {len(run['late'])} arrived after the answer "
        f"({run['in_flight']} in flight); resuming"
    )
    assert len(run["late"]) <= run["in_flight"]
    assert run["delivered_later"] == run["delivered"]  # nothing more while paused
    assert not Message.objects.filter(mailing_id=run["id"], status=MessageStatus.SENDING).exists()

    api = api_for(live)
    resumed = api.call("POST", f"/api/mailings/{run['id']}/resume_mailing/")
    assert resumed["status"] == "running"
    wait_finished(run["id"], timeout=120)

    assert unique_and_repeated(live, "Paused mid-run") == (3000, 0)
    assert counts(run["id"]) == {"sent": 3000}


def test_pause_and_resume_repeated_quickly_lose_nothing_and_repeat_nothing(live: Stack) -> None:
    make_clients(3000)
    api = api_for(live)
    live.faults(latency_ms=1000, latency_jitter=0.3)
    created = create_mailing(api, "Paused and resumed")
    wait_until(lambda: len(live.deliveries("Paused and resumed")) >= 50, timeout=30)

    for _ in range(6):
        assert api.call("POST", f"/api/mailings/{created['id']}/pause_mailing/")["status"] == (
            "paused"
        )
        time.sleep(0.2)
        assert api.call("POST", f"/api/mailings/{created['id']}/resume_mailing/")["status"] == (
            "running"
        )
        time.sleep(0.3)
    wait_finished(created["id"], timeout=120)

    assert unique_and_repeated(live, "Paused and resumed") == (3000, 0)
    assert counts(created["id"]) == {"sent": 3000}


def test_a_paused_mailing_survives_a_restart_of_every_process(live: Stack) -> None:
    make_clients(1500)
    api = api_for(live)
    live.faults(latency_ms=300, latency_jitter=0.2)
    created = create_mailing(api, "Paused through a restart")
    wait_until(lambda: len(live.deliveries("Paused through a restart")) >= 100, timeout=30)
    api.call("POST", f"/api/mailings/{created['id']}/pause_mailing/")
    wait_until(
        lambda: (
            not Message.objects.filter(
                mailing_id=created["id"], status=MessageStatus.SENDING
            ).exists()
        ),
        timeout=15,
        what="the requests in flight to end",
    )
    delivered_while_paused = len(live.deliveries("Paused through a restart"))

    for name in [n for n in live.procs if n.startswith(("worker", "beat", "web"))]:
        live.kill(name, signal.SIGKILL)
    live.start_worker("worker-after-restart")
    live.start_beat()
    live.start_web()
    time.sleep(3)
    assert len(live.deliveries("Paused through a restart")) == delivered_while_paused
    api = api_for(live)
    assert api.call("POST", f"/api/mailings/{created['id']}/resume_mailing/")["status"] == "running"
    wait_finished(created["id"], timeout=120)

    assert unique_and_repeated(live, "Paused through a restart") == (1500, 0)
    assert counts(created["id"]) == {"sent": 1500}
