"""`make chaos`: a bounded run of a 100,000-message mailing while the worker, beat, the web
server, Redis and PostgreSQL are killed (SIGKILL) at random moments and started again.

Beside it, a mailing that ends while the chaos goes on and one that is cancelled mid-way.
At the end it checks, and prints:
- every message is final and each mailing finished (or cancelled);
- the counters equal ``COUNT(*)`` by status;
- nothing reached the gateway after a mailing's end time, nor after the cancel's answer
  (beyond the requests already in flight then);
- duplicates, attributed to the kills: only requests in flight when a *worker* was killed
  may be sent twice (the same msgId, for the gateway to deduplicate).

    python -m e2e.chaos --clients 100000 --seconds 180 --seed 7
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

import django

django.setup()

from e2e.api import Api  # noqa: E402
from e2e.postgres import (  # noqa: E402
    PrivatePostgres,
    insert_clients,
    is_final,
    mailing_state,
    migrated_database,
)
from e2e.stack import Stack, wait_until  # noqa: E402

VICTIMS = ("worker", "beat", "web", "redis", "postgres")
CLAIMED_SLACK = 1.0  # seconds from a claim to its request, on a busy 2-core machine
STACK_ENV = {
    "GATEWAY_TIMEOUT_SECONDS": "5",
    "DISPATCH_LEASE_SECONDS": "10",
    "RECOVERY_GRACE_SECONDS": "10",
    "DISPATCH_TASK_SECONDS": "10",
    "DISPATCH_IDLE_SECONDS": "1",
    "DELIVERY_BACKOFF_BASE_SECONDS": "0.2",
    "DELIVERY_BACKOFF_CAP_SECONDS": "2",
    "CONN_MAX_AGE": "0",
    "LOG_LEVEL": "WARNING",
}


@dataclass
class Kill:
    victim: str
    at: float  # epoch seconds
    down: float
    duplicates: int = 0


@dataclass
class Run:
    kills: list[Kill] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> None:
        print(f"  {'ok ' if ok else 'FAIL'} {what}", flush=True)
        if not ok:
            self.failures.append(what)


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def kill_and_restart(stack: Stack, pg: PrivatePostgres, victim: str, down: float) -> None:
    if victim == "postgres":
        pg.kill()
        time.sleep(down)
        pg.start()
    elif victim == "redis":
        stack.restart_redis(down_seconds=down)
    else:
        name = next(n for n in stack.procs if n.startswith(victim))
        stack.kill(name, signal.SIGKILL)
        time.sleep(down)
        {
            "worker": lambda: stack.start_worker(f"worker-{int(time.time())}"),
            "beat": stack.start_beat,
            "web": lambda: stack.start_web(wait=False),
        }[victim]()


def chaos(stack: Stack, pg: PrivatePostgres, rng: random.Random, until: float, run: Run) -> None:
    while time.time() < until:
        time.sleep(rng.uniform(4, 12))
        victim = rng.choice(VICTIMS)
        down = rng.uniform(1, 20 if victim == "postgres" else 8)
        print(f"[{time.strftime('%H:%M:%S')}] kill {victim}, down {down:.0f} s", flush=True)
        run.kills.append(Kill(victim, time.time(), down))
        kill_and_restart(stack, pg, victim, down)


def create(api: Api, text: str, tag: str, end: float) -> dict[str, Any]:
    body = {"text": text, "start_at": iso(time.time()), "end_at": iso(end), "filter": {"tag": tag}}
    for _ in range(60):  # the API may be down: chaos has not started yet, but be patient
        status, created, _ = api.timed("POST", "/api/mailings/", body)
        if status == 201:
            return dict(created)
        time.sleep(1)
    raise RuntimeError("could not create a mailing")


def attribute_duplicates(deliveries: list[dict[str, Any]], run: Run, timeout: float) -> int:
    """Each duplicated msgId to the worker kill its first request was in flight at."""
    first: dict[int, float] = {}
    repeated: set[int] = set()
    for d in sorted(deliveries, key=lambda d: d["at"]):
        if d["id"] in first:
            repeated.add(d["id"])
        else:
            first[d["id"]] = d["at"]
    unexplained = 0
    worker_kills = [k for k in run.kills if k.victim == "worker"]
    for msg_id in repeated:
        kill = next((k for k in worker_kills if k.at - timeout <= first[msg_id] <= k.at + 1), None)
        if kill is None:
            unexplained += 1
        else:
            kill.duplicates += 1
    return unexplained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=180.0, help="how long the chaos lasts")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng, run = random.Random(args.seed), Run()
    pg = PrivatePostgres().start()
    url = migrated_database(pg, username="chaos", password="chaos-pass-1")
    stack = Stack(database_url=url, redis=shutil.which("redis-server") is not None, env=STACK_ENV)
    stack.start()
    try:
        return exercise(stack, pg, url, args, rng, run)
    finally:
        stack.stop(keep_logs=True)
        print(f"logs: {stack.tmp}; PostgreSQL's: {pg.root / 'postgres.log'}")
        pg.stop()


def exercise(
    stack: Stack, pg: PrivatePostgres, url: str, args: Any, rng: random.Random, run: Run
) -> int:
    # Three mailings share the dispatchers; the two smaller ones still have messages waiting
    # when their end time comes and when they are cancelled, so those checks bite.
    n, half = args.clients, max(args.clients // 2, 100)
    insert_clients(url, tag="big", count=n, offset=0)
    insert_clients(url, tag="ends", count=half, offset=10**8)
    insert_clients(url, tag="cancelled", count=half, offset=2 * 10**8)
    stack.faults(latency_ms=200, latency_jitter=0.5)
    api = Api(stack.web_url, "chaos", "chaos-pass-1")
    started = time.time()
    big = create(api, "chaos: big", "big", started + 3600)
    ends_at = started + args.seconds / 3
    ending = create(api, "chaos: ends", "ends", ends_at)
    cancelled = create(api, "chaos: cancelled", "cancelled", started + 3600)
    print(
        f"mailings {big['id']}, {ending['id']}, {cancelled['id']}; chaos for {args.seconds:.0f} s"
    )
    chaos(stack, pg, rng, time.time() + args.seconds / 4, run)
    cancel_answered = cancel(api, cancelled["id"])
    chaos(stack, pg, rng, started + args.seconds, run)
    stack.faults(latency_ms=0, latency_jitter=0)
    wait_until(
        lambda: all(
            is_final(url, m["id"], ("finished", "cancelled")) for m in (big, ending, cancelled)
        ),
        timeout=900,
        interval=2,
        what="every mailing to end",
    )
    return verify(stack, url, run, big, ending, cancelled, ends_at, cancel_answered)


def cancel(api: Api, mailing_id: int) -> float:
    for _ in range(60):
        status, _, _ = api.timed("POST", f"/api/mailings/{mailing_id}/cancel_mailing/")
        if status == 200:
            return time.time()
        time.sleep(1)
    raise RuntimeError("could not cancel")


def verify(
    stack: Stack,
    url: str,
    run: Run,
    big: dict[str, Any],
    ending: dict[str, Any],
    cancelled: dict[str, Any],
    ends_at: float,
    cancel_answered: float,
) -> int:
    print("checks:")
    timeout = float(STACK_ENV["GATEWAY_TIMEOUT_SECONDS"])
    deliveries = stack.deliveries()
    for mailing in (big, ending, cancelled):
        state = mailing_state(url, mailing["id"])
        rows = state["rows"]
        assert isinstance(rows, dict)
        final = not (set(rows) & {"pending", "sending"})
        run.check(final, f"mailing {mailing['id']}: every message final {rows}")
        run.check(state["counters"] == rows, f"mailing {mailing['id']}: counters = rows")
        unique = {d["id"] for d in deliveries if d["text"] == mailing["text"]}
        sent = int(rows.get("sent", 0))
        run.check(
            len(unique) == sent,
            f"mailing {mailing['id']}: {len(unique)} unique deliveries = {sent} sent",
        )
    expired = mailing_state(url, ending["id"])["rows"]
    stopped = mailing_state(url, cancelled["id"])["rows"]
    assert isinstance(expired, dict) and isinstance(stopped, dict)
    run.check(expired.get("expired", 0) > 0, f"the end time came with messages waiting: {expired}")
    run.check(stopped.get("cancelled", 0) > 0, f"the cancel came with messages waiting: {stopped}")
    late = [d for d in deliveries if d["text"] == ending["text"] and d["at"] > ends_at]
    run.check(not late, f"nothing after the end time ({len(late)} late)")
    after_cancel = [
        d
        for d in deliveries
        # Claimed before the cancel committed, started just after its answer: in flight.
        if d["text"] == cancelled["text"] and d["at"] > cancel_answered + CLAIMED_SLACK
    ]
    run.check(not after_cancel, f"nothing after the cancel's answer ({len(after_cancel)})")
    unexplained = attribute_duplicates(deliveries, run, timeout)
    print("kills:")
    for kill in run.kills:
        print(
            f"  {time.strftime('%H:%M:%S', time.localtime(kill.at))} {kill.victim:<8} "
            f"down {kill.down:4.1f} s  duplicates {kill.duplicates}"
        )
    total = sum(k.duplicates for k in run.kills) + unexplained
    run.check(
        unexplained == 0,
        f"duplicates only from worker kills ({total} in all, {unexplained} unexplained)",
    )
    print("chaos: " + ("PASSED" if not run.failures else f"FAILED: {run.failures}"))
    return 0 if not run.failures else 1


if __name__ == "__main__":
    sys.exit(main())
