"""The benchmarks' shared steps: a database per configuration, a mailing run to its end,
and the API load that runs beside a mailing."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, NamedTuple

from bench.measure import cpu_seconds_by_role, p
from bench.report import Row, progress

PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")

# `make run`'s defaults (scripts/run_all.py sets only LOG_FORMAT=text): what users get is what
# is measured. A benchmark that needs other settings says which.
BENCH_ENV = {"LOG_FORMAT": "text", "LOG_LEVEL": "INFO"}

# The reference gateway of the limit and the dispatch rows (bench/stub.py).
STUB_ARGV = [sys.executable, "-m", "bench.stub"]


def setup_database(config: str) -> tuple[str, bool]:
    if config == "postgres":
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS mailing_bench WITH (FORCE)")
            conn.execute("CREATE DATABASE mailing_bench")
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/mailing_bench"
        redis = True
    else:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='mailing-bench-')}/bench.sqlite3"
        redis = False
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url, redis


def settle_database() -> None:
    """VACUUM on PostgreSQL before a dispatch benchmark: each one measures its own mailing,
    not the dead row versions the one before left. A default server's autovacuum does this
    within a minute of such a batch of updates; this machine's runs with ``autovacuum =
    off``, and without it benchmark 3 right after benchmark 2's 200,000 updates cost
    PostgreSQL 0.068 ms a message instead of 0.045 (0.55 of the limit, not 0.60).

    Not ANALYZE: statistics taken here went stale with the million clients imported later,
    and the fan-out (64,479 against 84,625 rows/s) and the export (23,596 against 65,661)
    then ran on plans made for the tables of before the import."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM")
    progress(f"   VACUUM: {time.perf_counter() - started:.1f} s")


def make_api(stack: Any) -> Any:
    from e2e.api import api_as_new_user

    return api_as_new_user(stack.web_url, "bench", "bench-password-1")


def run_mailing(stack: Any, api: Any, tag: str, n: int, *, timeout: float) -> dict[str, Any]:
    """Create a mailing to the `tag` clients now; wait until it finishes; measure."""
    from mailings.models import Mailing, MailingStatus, Message

    # The emulator's counts run on across mailings (a reset would also undo the faults a
    # benchmark set): this mailing's are the difference from here.
    before = stack.gateway_stats()
    cpu_before = cpu_seconds_by_role(stack)
    started = time.time()
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started + 6 * 3600))
    created = api.call(
        "POST",
        "/api/mailings/",
        {"text": f"bench {tag}", "start_at": now, "end_at": end, "filter": {"tag": tag}},
    )
    deadline = time.monotonic() + timeout
    last_report = 0.0
    while time.monotonic() < deadline:
        if Mailing.objects.filter(pk=created["id"], status=MailingStatus.FINISHED).exists():
            break
        if time.monotonic() - last_report > 5:
            delivered = stack.gateway_stats()["delivered"] - before["delivered"]
            progress(f"  {tag}: {delivered:,} of {n:,} delivered")
            last_report = time.monotonic()
        time.sleep(0.2)
    else:
        raise TimeoutError(f"mailing {tag} did not finish in {timeout}s")
    cpu_after = cpu_seconds_by_role(stack)
    stats = stack.gateway_stats()
    delivered = stats["delivered"] - before["delivered"]
    sent = Message.objects.filter(mailing_id=created["id"], status="sent").count()
    seconds = (stats["last_delivery_at"] or time.time()) - started
    return {
        "rate": delivered / seconds,
        "seconds": seconds,
        "delivered": delivered,
        "duplicates": stats["duplicates"] - before["duplicates"],
        "sent": sent,
        "n": n,
        # CPU seconds of each role over the mailing, its launch included.
        "cpu": {k: v - cpu_before.get(k, 0.0) for k, v in cpu_after.items()},
    }


def api_load(
    base_url: str,
    token: str,
    stop: threading.Event,
    concurrency: int = 50,
    pace: float = 0.0,
    run: int = 1,
) -> dict[str, list[float]]:
    """`concurrency` clients alternating GET /api/clients/ and POST /api/clients/, each
    pausing about `pace` seconds between requests (0: back to back, a saturation test)."""
    import aiohttp

    latencies: dict[str, list[float]] = {"get": [], "post": []}

    warm_until = time.perf_counter() + WARM_UP_SECONDS

    def record(kind: str, started: float) -> None:
        # The first seconds open every web thread's database connection: not measured.
        if started >= warm_until:
            latencies[kind].append(time.perf_counter() - started)

    async def client(n: int, session: aiohttp.ClientSession) -> None:
        i = 0
        while not stop.is_set():
            started = time.perf_counter()
            async with session.get(f"{base_url}/api/clients/?page_size=50") as response:
                await response.read()
                assert response.status == 200, response.status
            record("get", started)
            await asyncio.sleep(pace * random.random() * 2)
            started = time.perf_counter()
            phone = f"78{run}{n:02d}{i:06d}"  # unique per run, client and request
            async with session.post(f"{base_url}/api/clients/", json={"phone": phone}) as response:
                await response.read()
                assert response.status == 201, response.status
            record("post", started)
            await asyncio.sleep(pace * random.random() * 2)
            i += 1

    async def go() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
            await asyncio.gather(*(client(n, session) for n in range(concurrency)))

    started = time.perf_counter()
    asyncio.run(go())
    latencies["seconds"] = [time.perf_counter() - started - WARM_UP_SECONDS]
    return latencies


API_CONCURRENCY = 50
WARM_UP_SECONDS = 3.0
API_PACE_SECONDS = 0.5  # each client's think time between two requests


class BackgroundLoad:
    """``api_load`` in a thread while a block runs: ``with BackgroundLoad(...) as load:``."""

    def __init__(self, stack: Any, api: Any, *, run: int, enabled: bool = True) -> None:
        self.result: dict[str, list[float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=lambda: self.result.update(
                api_load(stack.web_url, api.token, self._stop, pace=API_PACE_SECONDS, run=run)
            )
        )
        self._enabled = enabled

    def __enter__(self) -> BackgroundLoad:
        if self._enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def share_of_limit_row(
    number: int, what: str, result: dict[str, Any], limit: float, share: float
) -> Row:
    """A dispatch rate against the raw limit measured in the same run (``raw_limit``)."""
    ratio = result["rate"] / limit
    return Row(
        number,
        what,
        result["rate"],
        "msg/s",
        f">= {share} of the raw limit",
        ratio >= share,
        f"{ratio:.2f} of a raw limit of {limit:,.0f} req/s; {result['duplicates']} duplicates; "
        f"{result['sent']:,} sent of {result['n']:,}",
    )


RAW_IN_FLIGHT = 200


class RawRun(NamedTuple):
    """A plain client's run: requests/s, and the CPU each side spent per request (ms)."""

    rate: float
    client_ms: float
    gateway_ms: float


def raw_run(stack: Any, n: int, *, in_flight: int = RAW_IN_FLIGHT) -> RawRun:
    """A plain aiohttp client (``bench.plain_client``: ``in_flight`` at once, no database, no
    service code, asyncio's own loop and CPython's collector defaults) sending ``n``
    messages to the stack's gateway as it is set now: what this machine allows, and what
    the bare client and the gateway cost a request. In a process of its own: in this one,
    benchmark 7's API load runs in a thread beside it and took the interpreter's lock from
    it (the limits around that mailing read 3,068 and 3,313 req/s, the mailing 1.07 of
    them; apart, 4,482 and 3,994 in a run of the same phase, the mailing 0.80)."""
    return _plain_clients(
        stack, n, processes=1, in_flight=in_flight, loop="asyncio", collector="default"
    )


def raw_run_as_dispatchers(stack: Any, n: int, *, processes: int, in_flight: int) -> RawRun:
    """Plain aiohttp clients laid out as the dispatchers: ``processes`` processes of
    ``bench.plain_client``, ``in_flight`` requests each, uvloop, the service's collector
    settings, starting together and sending ``n`` messages between them to the gateway as
    it is set now. Their rate is what aiohttp itself reaches here, with the dispatchers'
    share of the machine; the CPU is per request, the clients' summed."""
    return _plain_clients(
        stack, n, processes=processes, in_flight=in_flight, loop="uvloop", collector="service"
    )


def _plain_clients(
    stack: Any, n: int, *, processes: int, in_flight: int, loop: str, collector: str
) -> RawRun:
    start_at = time.time() + 1.0  # every process imported and waiting by then
    each = -(-n // processes)
    env = {**os.environ, "GATEWAY_TOKEN": stack.token}
    argv = [sys.executable, "-m", "bench.plain_client", "--url", stack.gateway_url]
    argv += ["--loop", loop, "--collector", collector]
    gateway_before = cpu_seconds_by_role(stack).get("gateway", 0.0)
    clients = [
        subprocess.Popen(
            [
                *argv,
                *("--requests", str(each), "--in-flight", str(in_flight)),
                *("--first-id", str(1 + i * each), "--start-at", str(start_at)),
            ],
            stdout=subprocess.PIPE,
            env=env,
        )
        for i in range(processes)
    ]
    outputs = [client.communicate()[0] for client in clients]  # every one ended, even on failure
    failed = [client.returncode for client in clients if client.returncode]
    if failed:
        raise RuntimeError(f"bench.plain_client failed (exit {failed[0]})")
    results = [json.loads(out) for out in outputs]
    gateway = cpu_seconds_by_role(stack).get("gateway", 0.0) - gateway_before
    sent = each * processes
    seconds = max(r["ended"] for r in results) - min(r["started"] for r in results)
    client_ms = sum(r["cpu"] for r in results) * 1000 / sent
    return RawRun(sent / seconds, client_ms, gateway * 1000 / sent)


def raw_limit(stack: Any, n: int, *, in_flight: int = RAW_IN_FLIGHT) -> RawRun:
    """A plain aiohttp client against the stack's gateway at latency 0 (the gateway is reset
    after): the raw limit every dispatch row is held against."""
    run = raw_run(stack, n, in_flight=in_flight)
    stack.reset_gateway()
    return run


def bare_client_detail(runs: tuple[RawRun, ...]) -> str:
    """What a plain client and the gateway spent per request in ``runs`` (their mean): the
    floor under the worker's own figure."""
    client = sum(r.client_ms for r in runs) / len(runs)
    gateway = sum(r.gateway_ms for r in runs) / len(runs)
    return f"a plain aiohttp client {client:.3f} ms a request, the gateway {gateway:.3f}"


def cpu_per_message_row(
    number: int,
    what: str,
    used: dict[str, float],
    delivered: int,
    *,
    target_ms: float,
    reference: str = "",
) -> Row:
    """The worker processes' CPU per delivered message, with the others' beside it (and a
    plain client's, the ``reference``, when measured)."""
    per = {role: seconds * 1000 / max(delivered, 1) for role, seconds in used.items()}
    worker = per.get("worker", 0.0)
    others = ", ".join(
        f"{role} {ms:.3f}" for role, ms in sorted(per.items(), key=lambda kv: -kv[1]) if ms >= 0.001
    )
    return Row(
        number,
        f"worker CPU per delivered message, {what}",
        worker,
        "ms",
        f"<= {target_ms} ms",
        worker <= target_ms,
        f"ms per message by role: {others}" + (f"; {reference}" if reference else ""),
    )


def api_rows(load: dict[str, list[float]], when: str) -> list[Row]:
    rows = []
    seconds = load["seconds"][0]
    for method, path in (("get", "GET /api/clients/"), ("post", "POST /api/clients/")):
        p99 = p(load[method], 99)
        rows.append(
            Row(
                7,
                f"API p99, {API_CONCURRENCY} concurrent clients, {path}, {when}",
                p99 * 1000,
                "ms",
                "<= 100 ms",
                p99 <= 0.1,
                f"{len(load[method]) / seconds:,.0f} calls/s, p50 {p(load[method], 50) * 1000:.0f} ms",
            )
        )
    return rows
