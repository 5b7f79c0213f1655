"""Benchmarks of the data paths: bulk import (8), launch fan-out (5), statistics (6), export
(12)."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta
from typing import Any

from bench.measure import PeakMemory, group_of, p
from bench.registry import Context, benchmark
from bench.report import Row, progress


@benchmark(5, 6, 8, quiet=True)
def stop_sending(ctx: Context) -> list[Row]:
    """Stop the workers and beat: nothing below sends, and nothing should compete with it."""
    for name in [n for n in ctx.stack.procs if n.startswith(("worker", "beat"))]:
        ctx.stack.kill(name, 15)
    return []


@benchmark(8, 5, quiet=True)
def bulk_import(ctx: Context) -> list[Row]:
    n = ctx.sizes["import"]
    progress(f"8: bulk import of {n:,} clients from CSV through the API")
    rate, peak = bench_import(ctx.stack, ctx.api, n)
    progress(f"   {rate:,.0f} rows/s, web peak {peak:.0f} MiB")
    return [
        Row(
            8,
            f"bulk import, {n:,} clients, CSV through the API",
            rate,
            "rows/s",
            ">= 50,000 rows/s",
            rate >= 50_000,
        ),
        Row(
            8,
            "peak memory of the web process during the import",
            peak,
            "MiB",
            "<= 300 MB",
            peak <= 286,
        ),
    ]


@benchmark(5, 12, quiet=True)
def fanout(ctx: Context) -> list[Row]:
    """5: the launch of a mailing matching every imported client; 12: its CSV export."""
    n = ctx.sizes["import"]
    progress(f"5: launch fan-out of a mailing matching {n:,} clients")
    rate, created, mailing_id = bench_fanout(n)
    progress(f"   {rate:,.0f} rows/s")
    what = f"launch fan-out, {created:,} messages materialized"
    rows = [Row(5, what, rate, "rows/s", ">= 100,000 rows/s", rate >= 100_000)]
    return rows + export(ctx, mailing_id)


@benchmark(6, quiet=True)
def statistics(ctx: Context) -> list[Row]:
    n, m = ctx.sizes["stats_messages"], ctx.sizes["stats_mailings"]
    progress(f"6: statistics over {n:,} messages in {m:,} mailings (generating)")
    ids = generate_statistics_data(n, m)
    overall, per_mailing = bench_statistics(ctx.api, ids)
    progress(f"   p95 overall {overall * 1000:.1f} ms, per mailing {per_mailing * 1000:.1f} ms")
    return [
        Row(
            6,
            f"GET /api/mailings/statistics/ p95, {n:,} messages",
            overall * 1000,
            "ms",
            "<= 50 ms",
            overall <= 0.05,
        ),
        Row(
            6,
            "GET /api/mailings/{id}/message_statistics/ p95",
            per_mailing * 1000,
            "ms",
            "<= 50 ms",
            per_mailing <= 0.05,
        ),
    ]


def export(ctx: Context, mailing_id: int) -> list[Row]:
    from mailings.models import Message

    n = Message.objects.filter(mailing_id=mailing_id).count()
    progress(f"12: CSV export of a mailing's {n:,} messages through the API")
    rate, peak, rows = bench_export(ctx.stack, ctx.api, mailing_id)
    assert rows == n, (rows, n)
    progress(f"   {rate:,.0f} rows/s, web peak {peak:.0f} MiB")
    return [
        Row(
            12,
            f"CSV export, {n:,} messages, streamed by the API",
            rate,
            "rows/s",
            "reference",
            None,
        ),
        Row(
            12,
            "peak memory of the web process during the export",
            peak,
            "MiB",
            "bounded (not growing with rows)",
            None,
        ),
    ]


def bench_export(stack: Any, api: Any, mailing_id: int) -> tuple[float, float, int]:
    import aiohttp

    async def go() -> tuple[float, int]:
        headers = {"Authorization": f"Bearer {api.token}"}
        timeout = aiohttp.ClientTimeout(total=900)
        lines = 0
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
            started = time.perf_counter()
            url = f"{stack.web_url}/api/mailings/{mailing_id}/export/"
            async with session.get(url) as response:
                assert response.status == 200, response.status
                async for chunk in response.content.iter_chunked(1 << 16):
                    lines += chunk.count(b"\n")
            elapsed = time.perf_counter() - started
        return elapsed, lines - 1  # the header

    with PeakMemory(group_of(stack, "web")) as memory:
        elapsed, rows = asyncio.run(go())
    return rows / elapsed, memory.peak_process_mib, rows


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


def bench_fanout(n_expected: int) -> tuple[float, int, int]:
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
    return created / elapsed, created, mailing.pk


def generate_statistics_data(n_messages: int, n_mailings: int) -> list[int]:
    from django.db import connection
    from django.utils import timezone

    from mailings.models import Mailing, MailingStatus

    # The mailings through the ORM (a hundred rows; every column gets its model default),
    # the messages in bulk SQL (millions of rows).
    now = timezone.now()
    created = Mailing.objects.bulk_create(
        Mailing(
            text=f"stats {i}",
            start_at=now - timedelta(days=1),
            end_at=now + timedelta(days=1),
            status=MailingStatus.FINISHED,
            launched_at=now - timedelta(days=1),
        )
        for i in range(1, int(n_mailings) + 1)
    )
    ids = sorted(m.pk for m in created)
    statuses = "ARRAY['sent','sent','sent','sent','failed','expired','pending','cancelled']"
    with connection.cursor() as cursor:
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
