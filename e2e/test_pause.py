"""Pause and resume on real processes (SPEC 8.5): no request of a paused mailing starts
after the answer, resume continues exactly the pending messages, every message goes once."""

from __future__ import annotations

import signal
import time

from e2e.stack import Stack, wait_until
from e2e.test_delivery import (
    api_for,
    counts,
    start_slow_mailing,
    stop_mid_run,
    wait_finished,
)
from mailings.models import Message, MessageStatus


def assert_sent_once(live: Stack, text: str, mailing_id: int, n: int) -> None:
    ids = [d["id"] for d in live.deliveries(text)]
    assert (len(set(ids)), len(ids) - len(set(ids))) == (n, 0)  # every one, none twice
    assert counts(mailing_id) == {"sent": n}


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

    assert_sent_once(live, "Paused mid-run", run["id"], 3000)


def test_pause_and_resume_repeated_quickly_lose_nothing_and_repeat_nothing(live: Stack) -> None:
    api, created = start_slow_mailing(
        live, 3000, "Paused and resumed", latency_ms=1000, jitter=0.3, until=50
    )

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

    assert_sent_once(live, "Paused and resumed", created["id"], 3000)


def test_a_paused_mailing_survives_a_restart_of_every_process(live: Stack) -> None:
    api, created = start_slow_mailing(live, 1500, "Paused through a restart", latency_ms=300)
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

    assert_sent_once(live, "Paused through a restart", created["id"], 1500)
