"""The benchmarks themselves; run in a child process per configuration by bench/run.py."""

from __future__ import annotations

import asyncio
import os
import random
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.run import PG_ADMIN_URL, Row, progress

BENCH_ENV = {
    "DISPATCH_SLOTS": "2",
    "DISPATCH_MAX_IN_FLIGHT": "500",
    "LOG_LEVEL": "INFO",
    "LOG_FORMAT": "json",
}


# --- set-up -----------------------------------------------------------------------------------


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


def make_api(stack: Any) -> Any:
    from e2e.api import api_as_new_user

    return api_as_new_user(stack.web_url, "bench", "bench-password-1")


class PeakMemory:
    """Samples the resident memory of every process in some process groups."""

    def __init__(self, pgids: Callable[[], list[int]]) -> None:
        self._pgids = pgids
        self.peak_process_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            groups = set(self._pgids())
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    if int(stat[2]) not in groups:
                        continue
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            mib = int(line.split()[1]) / 1024
                            self.peak_process_mib = max(self.peak_process_mib, mib)
                except (OSError, IndexError, ValueError):
                    continue

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds_by_role(stack: Any) -> dict[str, float]:
    """CPU time (user + system) used so far by each role's processes on this machine."""
    tick = os.sysconf("SC_CLK_TCK")
    groups = {p.pid: re.sub(r"\d.*$", "", name) for name, p in stack.procs.items()}
    me = os.getpid()
    totals: dict[str, float] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw.rsplit(")", 1)[1].split()
        pgrp, used = int(fields[2]), (int(fields[11]) + int(fields[12])) / tick
        if pgrp in groups:
            role = groups[pgrp]
        elif comm.startswith("postgres"):
            role = "postgres"
        elif int(pid) == me:
            role = "load generator (bench)"
        else:
            continue
        totals[role] = totals.get(role, 0.0) + used
    return totals


def cpu_share(before: dict[str, float], after: dict[str, float], seconds: float) -> str:
    cores = os.cpu_count() or 1
    used = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    parts = sorted(used.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v / seconds / cores:.0%}" for k, v in parts if v > 0.01 * seconds)


def group_of(stack: Any, prefix: str) -> Callable[[], list[int]]:
    return lambda: [p.pid for name, p in stack.procs.items() if name.startswith(prefix)]


# --- benchmarks -------------------------------------------------------------------------------


def bench_limit(stack: Any, n: int) -> float:
    """A plain aiohttp client, the dispatcher's concurrency, no database."""
    from django.conf import settings

    from gateway.client import GatewayClient

    concurrency = settings.DISPATCH_MAX_IN_FLIGHT * settings.DISPATCH_SLOTS

    async def go() -> float:
        async with GatewayClient(stack.gateway_url, stack.token, max_in_flight=concurrency) as gw:
            semaphore = asyncio.Semaphore(concurrency)

            async def one(i: int) -> None:
                async with semaphore:
                    await gw.send(msg_id=i, phone="79000000000", text="limit")

            started = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(1, n + 1)))
            return n / (time.perf_counter() - started)

    rate = asyncio.run(go())
    stack.reset_gateway()
    return rate


def run_mailing(stack: Any, api: Any, tag: str, n: int, *, timeout: float) -> dict[str, Any]:
    """Create a mailing to the `tag` clients now; wait until it finishes; measure."""
    from mailings.models import Mailing, MailingStatus, Message

    # The emulator's counts run on across mailings (a reset would also undo the faults a
    # benchmark set): this mailing's are the difference from here.
    before = stack.gateway_stats()
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
    """A dispatch rate against the gateway client's own limit (benchmark 1)."""
    ratio = result["rate"] / limit
    return Row(
        number,
        what,
        result["rate"],
        "msg/s",
        f">= {share} of the limit",
        ratio >= share,
        f"{ratio:.2f} of {limit:,.0f}; {result['duplicates']} duplicates",
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


def p(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100)[q - 1]


def bench_import(stack: Any, api: Any, n: int) -> tuple[float, float]:
    import aiohttp

    lines = ["phone,operator_code,tag,timezone"]
    lines += [f"75{i:09d},,b8,Europe/Moscow" for i in range(n)]
    body = ("\n".join(lines) + "\n").encode()

    async def go() -> float:
        form = aiohttp.FormData()
        form.add_field("file", body, filename="clients.csv", content_type="text/csv")
        headers = {"Authorization": f"Bearer {api.token}"}
        timeout = aiohttp.ClientTimeout(total=900)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
            started = time.perf_counter()
            async with session.post(f"{stack.web_url}/api/clients/import/", data=form) as response:
                result = await response.json()
                assert response.status == 200, result
            elapsed = time.perf_counter() - started
        assert result["created"] == n and not result["rejected"], {
            k: result[k] for k in ("created", "updated")
        }
        return elapsed

    with PeakMemory(group_of(stack, "web")) as memory:
        elapsed = asyncio.run(go())
    return n / elapsed, memory.peak_process_mib


def bench_fanout(n_expected: int) -> tuple[float, int]:
    from datetime import timedelta

    from django.utils import timezone

    from mailings import services
    from mailings.models import Mailing

    now = timezone.now()
    mailing = Mailing.objects.create(
        text="fan-out", start_at=now, end_at=now + timedelta(hours=1), filter_tag="b8"
    )
    started = time.perf_counter()
    assert services.mailing_launch(mailing_id=mailing.pk)
    elapsed = time.perf_counter() - started
    created = mailing.messages.count()
    assert created == n_expected, (created, n_expected)
    return created / elapsed, created


def generate_statistics_data(n_messages: int, n_mailings: int) -> list[int]:
    from django.db import connection

    from mailings.models import Mailing

    before = set(Mailing.objects.values_list("id", flat=True))
    statuses = "ARRAY['sent','sent','sent','sent','failed','expired','pending','cancelled']"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO mailings_mailing (text, start_at, end_at, filter_operator_code, "
            "filter_tag, status, created_at) SELECT 'stats ' || g, now() - interval '1 day', "
            "now() + interval '1 day', '', '', 'finished', now() "
            f"FROM generate_series(1, {int(n_mailings)}) g"
        )
        ids = sorted(set(Mailing.objects.values_list("id", flat=True)) - before)
        first = ids[0]
        chunk = 1_000_000
        for start in range(0, n_messages, chunk):
            size = min(chunk, n_messages - start)
            cursor.execute(
                "INSERT INTO mailings_message (mailing_id, client_id, phone, status, attempts, "
                "created_at, last_error) "
                f"SELECT {first} + (g % {int(n_mailings)}), g, '79000000000', "
                f"({statuses})[1 + (g / {int(n_mailings)}) % 8], 1, now(), '' "
                f"FROM generate_series({start + 1}, {start + size}) g"
            )
            progress(f"  {start + size:,} of {n_messages:,} messages generated")
        cursor.execute("ANALYZE")
    from mailings import counters

    counters.counts_compact()  # what the next scheduler tick would do
    return ids


def bench_statistics(api: Any, mailing_ids: list[int], requests: int = 40) -> tuple[float, float]:
    overall = []
    per_mailing = []
    api.call("GET", "/api/mailings/statistics/")  # warm up
    rng = random.Random(1)
    for _ in range(requests):
        status, _, took = api.timed("GET", "/api/mailings/statistics/")
        assert status == 200
        overall.append(took)
        mailing_id = rng.choice(mailing_ids)
        status, _, took = api.timed("GET", f"/api/mailings/{mailing_id}/message_statistics/")
        assert status == 200
        per_mailing.append(took)
    return p(overall, 95), p(per_mailing, 95)


def bench_scale_out(url: str, redis: bool, n: int) -> list[Row]:
    """The same mailing with one worker process and one dispatcher, then with two worker
    processes and two dispatchers; the gateway's latency (not this machine's CPU) is the
    limit, as when workers run on several machines."""
    from bench import data
    from e2e.stack import Stack

    rates = []
    for workers in (1, 2):
        env = {**BENCH_ENV, "DISPATCH_SLOTS": str(workers), "DISPATCH_MAX_IN_FLIGHT": "100"}
        stack = Stack(
            database_url=url,
            redis=redis,
            env=env,
            workers=workers,
            emulator_args=["--no-delivery-log"],
        )
        stack.start()
        try:
            api = make_api(stack)
            tag = f"b10w{workers}"
            data.insert_clients(n, offset=30_000_000 + workers * 1_000_000, tag=tag)
            stack.faults(latency_ms=200, latency_jitter=0.5)
            progress(
                f"10: scale-out, {workers} worker process(es), {n:,} clients, 100 in flight each"
            )
            result = run_mailing(stack, api, tag, n, timeout=max(180, n / 20))
            progress(f"   {result['rate']:,.0f} msg/s, {result['duplicates']} duplicates")
            rates.append((workers, result))
        finally:
            stack.stop()
    (_, one), (_, two) = rates
    ratio = two["rate"] / one["rate"]
    return [
        Row(
            10,
            f"scale-out: 1 worker process, 1 dispatcher, latency 200 ms, {n:,} clients",
            one["rate"],
            "msg/s",
            "reference",
            None,
            f"{one['duplicates']} duplicates",
        ),
        Row(
            10,
            "scale-out: 2 worker processes, 2 dispatchers, same mailing size",
            two["rate"],
            "msg/s",
            "~2x the above, no duplicate",
            ratio >= 1.7 and two["duplicates"] == 0,
            f"{ratio:.2f}x; {two['duplicates']} duplicates",
        ),
    ]


# --- the runs -----------------------------------------------------------------------------------


def run(config: str, sizes: dict[str, int], only: set[int]) -> list[Row]:
    from bench import data
    from e2e.stack import Stack

    def wanted(*numbers: int) -> bool:
        return not only or bool(only & set(numbers))

    url, redis = setup_database(config)
    rows: list[Row] = []
    if config == "postgres" and wanted(10):
        rows += bench_scale_out(url, redis, sizes["scale"])
        if only == {10}:
            return rows
    progress(f"database {url.split('@')[-1]}, broker {'redis' if redis else 'filesystem'}")
    stack = Stack(database_url=url, redis=redis, env=BENCH_ENV, emulator_args=["--no-delivery-log"])
    stack.start()
    try:
        api = make_api(stack)
        progress("1: the limit: a plain aiohttp client against the emulator")
        limit = bench_limit(stack, sizes["limit"])
        progress(f"   {limit:,.0f} requests/s")
        if config == "postgres":
            rows.append(
                Row(
                    1,
                    "limit: plain aiohttp client -> emulator, no database",
                    limit,
                    "req/s",
                    "reference",
                    None,
                )
            )

        if config == "embedded" and wanted(4):
            n = sizes["embedded"]
            data.insert_clients(n, tag="b4")
            progress(f"4: dispatch on SQLite + filesystem broker, {n:,} clients")
            result = run_mailing(stack, api, "b4", n, timeout=max(120, n / 50))
            row = share_of_limit_row(
                4, f"dispatch, embedded, {n:,} clients, latency 0", result, limit, 0.25
            )
            rows.append(row)
            progress(f"   {result['rate']:,.0f} msg/s = {row.detail}")

        if config == "postgres" and wanted(2, 9):
            n = sizes["dispatch"]
            data.insert_clients(n, offset=0, tag="b2")
            progress(f"2: dispatch on PostgreSQL + Redis, {n:,} clients, latency 0")
            with PeakMemory(group_of(stack, "worker")) as memory:
                result = run_mailing(stack, api, "b2", n, timeout=max(120, n / 100))
            row = share_of_limit_row(
                2, f"dispatch, PostgreSQL + Redis, {n:,} clients, latency 0", result, limit, 0.5
            )
            rows.append(row)
            rows.append(
                Row(
                    9,
                    "peak memory of one worker process during 2",
                    memory.peak_process_mib,
                    "MiB",
                    "<= 300 MB",
                    memory.peak_process_mib <= 286,
                )
            )
            progress(
                f"   {result['rate']:,.0f} msg/s = {row.detail}, "
                f"worker peak {memory.peak_process_mib:.0f} MiB"
            )
            stack.reset_gateway()

        if config == "postgres" and wanted(7):
            progress("7: API load alone, nothing sending (for comparison)")
            with BackgroundLoad(stack, api, run=1) as alone:
                time.sleep(20 if sizes["slow"] > 10_000 else 6)
            rows += api_rows(alone.result, "nothing sending")

        if config == "postgres" and wanted(3, 7):
            n = sizes["slow"]
            data.insert_clients(n, offset=10_000_000, tag="b3")
            data.insert_clients(n, offset=20_000_000, tag="b3l")
            stack.faults(latency_ms=200, latency_jitter=0.5)
            runs = [("b3", False)] if not wanted(7) else [("b3", False), ("b3l", True)]
            for tag, with_load in runs:
                progress(
                    f"3: dispatch, gateway latency 200 ms ± 50 %, {n:,} clients"
                    + ("; 7: with the API load" if with_load else "")
                )
                with BackgroundLoad(stack, api, run=2, enabled=with_load) as load:
                    cpu_before, started = cpu_seconds_by_role(stack), time.monotonic()
                    result = run_mailing(stack, api, tag, n, timeout=max(180, n / 50))
                    elapsed = time.monotonic() - started
                    share = cpu_share(cpu_before, cpu_seconds_by_role(stack), elapsed)
                progress(f"   {result['rate']:,.0f} msg/s; CPU of {os.cpu_count()} cores: {share}")
                rows.append(
                    Row(
                        3,
                        f"dispatch, latency 200 ms ± 50 %, {n:,} clients"
                        + (", with the API load of 7" if with_load else ""),
                        result["rate"],
                        "msg/s",
                        ">= 2,000 msg/s",
                        result["rate"] >= 2000,
                        f"{result['duplicates']} duplicates; CPU: {share}",
                    )
                )
                if with_load:
                    rows += api_rows(load.result, "during 3")
            stack.reset_gateway()

        if config == "postgres":
            for name in [n for n in stack.procs if n.startswith(("worker", "beat"))]:
                stack.kill(name, 15)

        if config == "postgres" and wanted(8, 5):
            n = sizes["import"]
            progress(f"8: bulk import of {n:,} clients from CSV through the API")
            rate, peak = bench_import(stack, api, n)
            rows.append(
                Row(
                    8,
                    f"bulk import, {n:,} clients, CSV through the API",
                    rate,
                    "rows/s",
                    ">= 50,000 rows/s",
                    rate >= 50_000,
                )
            )
            rows.append(
                Row(
                    8,
                    "peak memory of the web process during the import",
                    peak,
                    "MiB",
                    "<= 300 MB",
                    peak <= 286,
                )
            )
            progress(f"   {rate:,.0f} rows/s, web peak {peak:.0f} MiB")

        if config == "postgres" and wanted(5):
            n = sizes["import"]
            progress(f"5: launch fan-out of a mailing matching {n:,} clients")
            rate, created = bench_fanout(n)
            rows.append(
                Row(
                    5,
                    f"launch fan-out, {created:,} messages materialized",
                    rate,
                    "rows/s",
                    ">= 100,000 rows/s",
                    rate >= 100_000,
                )
            )
            progress(f"   {rate:,.0f} rows/s")

        if config == "postgres" and wanted(6):
            n, m = sizes["stats_messages"], sizes["stats_mailings"]
            progress(f"6: statistics over {n:,} messages in {m:,} mailings (generating)")
            ids = generate_statistics_data(n, m)
            overall, per_mailing = bench_statistics(api, ids)
            rows.append(
                Row(
                    6,
                    f"GET /api/mailings/statistics/ p95, {n:,} messages",
                    overall * 1000,
                    "ms",
                    "<= 50 ms",
                    overall <= 0.05,
                )
            )
            rows.append(
                Row(
                    6,
                    "GET /api/mailings/{id}/message_statistics/ p95",
                    per_mailing * 1000,
                    "ms",
                    "<= 50 ms",
                    per_mailing <= 0.05,
                )
            )
            progress(
                f"   p95 overall {overall * 1000:.1f} ms, per mailing {per_mailing * 1000:.1f} ms"
            )
    finally:
        stack.stop()
    return rows
