"""Benchmarks of sending: the gateway client's limit (1), dispatch at latency 0 (2, 4) and
at 200 ms (3), the API beside it (7), a worker's memory (9), scale-out (10)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from bench import data
from bench.harness import (
    BENCH_ENV,
    RAW_IN_FLIGHT,
    BackgroundLoad,
    RawRun,
    api_rows,
    bare_client_detail,
    cpu_per_message_row,
    make_api,
    raw_limit,
    raw_run_as_dispatchers,
    run_mailing,
    settle_database,
    share_of_limit_row,
)
from bench.measure import PeakMemory, group_of
from bench.registry import Context, benchmark
from bench.report import Row, progress


@benchmark(10, own_stack=True)
def scale_out(ctx: Context) -> list[Row]:
    """The same mailing with one worker process and one dispatcher, then with two worker
    processes and two dispatchers; the gateway's latency (not this machine's CPU) is the
    limit, as when workers run on several machines."""
    from e2e.stack import Stack

    n = ctx.sizes["scale"]
    results = []
    for workers in (1, 2):
        env = {**BENCH_ENV, "DISPATCH_SLOTS": str(workers), "DISPATCH_MAX_IN_FLIGHT": "100"}
        stack = Stack(
            database_url=ctx.database_url,
            redis=ctx.redis,
            env=env,
            workers=workers,
            emulator_args=["--no-delivery-log"],
        )
        stack.start()
        try:
            tag = f"b10w{workers}"
            data.insert_clients(n, offset=30_000_000 + workers * 1_000_000, tag=tag)
            stack.faults(latency_ms=200, latency_jitter=0.5)
            progress(
                f"10: scale-out, {workers} worker process(es), {n:,} clients, 100 in flight each"
            )
            result = run_mailing(stack, make_api(stack), tag, n, timeout=max(180, n / 20))
            progress(f"   {result['rate']:,.0f} msg/s, {result['duplicates']} duplicates")
            results.append(result)
        finally:
            stack.stop()
    one, two = results
    ratio = two["rate"] / one["rate"]
    what = f"scale-out: 1 worker process, 1 dispatcher, latency 200 ms, {n:,} clients"
    return [
        Row(10, what, one["rate"], "msg/s", "reference", None, f"{one['duplicates']} duplicates"),
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


@benchmark(1, configs=("postgres", "embedded"), always=True)
def limit(ctx: Context) -> list[Row]:
    """The raw limit: a plain aiohttp client against the minimal stub, no database."""
    n = ctx.sizes["limit"]
    progress(f"1: the raw limit: a plain aiohttp client, {RAW_IN_FLIGHT} in flight -> the stub")
    run = raw_limit(ctx.stack, n)
    ctx.limit = run.rate
    progress(f"   {ctx.limit:,.0f} requests/s")
    what = (
        f"raw limit ({ctx.config}'s run): plain aiohttp client, {RAW_IN_FLIGHT} in flight -> stub"
    )
    cpu = f"CPU: the client {run.client_ms:.3f} ms a request, the stub {run.gateway_ms:.3f}"
    return [Row(1, what, ctx.limit, "req/s", "reference", None, cpu)]


def dispatch_row(
    ctx: Context, number: int, tag: str, n: int, what: str, *, share: float, timeout: float
) -> tuple[list[Row], dict[str, Any]]:
    """The mailing between two raw limits (the machine's own noise moves them by up to a
    fifth from one minute to the next): its rate against their mean, and the CPU each role
    spent per delivered message."""
    settle_database()
    before = raw_limit(ctx.stack, ctx.sizes["limit"])
    progress(f"   raw limit before: {before.rate:,.0f} req/s")
    result = run_mailing(ctx.stack, ctx.api, tag, n, timeout=timeout)
    after = raw_limit(ctx.stack, ctx.sizes["limit"])
    reference = f"{bare_client_detail((before, after))} at latency 0, asyncio's loop"
    rows = limit_rows(number, what, result, (before, after), share=share, reference=reference)
    return rows, result


def limit_rows(
    number: int,
    what: str,
    result: dict[str, Any],
    limits: tuple[RawRun, ...],
    *,
    share: float,
    reference: str,
    plain: tuple[RawRun, str] | None = None,
) -> list[Row]:
    """The dispatch row against the mean of ``limits``, and its CPU row; ``plain``: plain
    clients' run at the same latency and their layout, their rate shown as a share of the
    same limit and the dispatch's as a share of theirs (which moves far less with the
    machine's speed than either does against the limit)."""
    limit = sum(x.rate for x in limits) / len(limits)
    row = share_of_limit_row(number, what, result, limit, share)
    row.detail += "; raw limits measured " + " and ".join(f"{x.rate:,.0f}" for x in limits)
    if plain is not None:
        run, layout = plain
        row.detail += (
            f"; plain aiohttp clients ({layout}) reach {run.rate:,.0f} req/s at this latency: "
            f"{run.rate / limit:.2f} of the limit; the dispatch {result['rate'] / run.rate:.2f} "
            "of theirs"
        )
    cpu = cpu_per_message_row(
        13, what, result["cpu"], result["delivered"], target_ms=0.2, reference=reference
    )
    progress(
        f"   {result['rate']:,.0f} msg/s = {row.detail}; {cpu.value:.3f} ms CPU ({cpu.detail})"
    )
    return [row, cpu]


@benchmark(4, 13, configs=("embedded",))
def dispatch_embedded(ctx: Context) -> list[Row]:
    n = ctx.sizes["embedded"]
    data.insert_clients(n, tag="b4")
    progress(f"4: dispatch on SQLite + filesystem broker, {n:,} clients")
    what = f"dispatch, embedded, {n:,} clients, latency 0"
    rows, _ = dispatch_row(ctx, 4, "b4", n, what, share=0.7, timeout=max(120, n / 50))
    return rows


@benchmark(2, 9, 13)
def dispatch_postgres(ctx: Context) -> list[Row]:
    n = ctx.sizes["dispatch"]
    data.insert_clients(n, offset=0, tag="b2")
    progress(f"2: dispatch on PostgreSQL + Redis, {n:,} clients, latency 0")
    what = f"dispatch, PostgreSQL + Redis, {n:,} clients, latency 0"
    with PeakMemory(group_of(ctx.stack, "worker")) as memory:
        rows, _ = dispatch_row(ctx, 2, "b2", n, what, share=0.7, timeout=max(120, n / 100))
    peak = memory.peak_process_mib
    progress(f"   worker peak {peak:.0f} MiB")
    what = "peak memory of one worker process during 2"
    return [*rows, Row(9, what, peak, "MiB", "<= 300 MB", peak <= 286)]


@benchmark(7)
def api_alone(ctx: Context) -> list[Row]:
    progress("7: API load alone, nothing sending (for comparison)")
    with BackgroundLoad(ctx.stack, ctx.api, run=1) as alone:
        time.sleep(20 if ctx.sizes["slow"] > 10_000 else 6)
    return api_rows(alone.result, "nothing sending")


@benchmark(3, 7, 13)
def dispatch_slow_gateway(ctx: Context) -> list[Row]:
    """Latency 200 ms ± 50 % against the raw limit at latency 0; then a mailing at full speed
    (latency 0) with the API load of 7 beside it."""
    n, stack = ctx.sizes["slow"], ctx.stack
    data.insert_clients(n, offset=10_000_000, tag="b3")
    what = f"dispatch, latency 200 ms ± 50 %, {n:,} clients"
    progress(f"3: {what}")
    settle_database()
    before = raw_limit(stack, ctx.sizes["limit"])
    progress(f"   raw limit before (latency 0): {before.rate:,.0f} req/s")
    stack.faults(latency_ms=200, latency_jitter=0.5)
    result = run_mailing(stack, ctx.api, "b3", n, timeout=max(180, n / 50))
    # The same messages from plain aiohttp clients laid out as the dispatchers (a process per
    # slot, as many requests in flight each, uvloop), at the same latency: what aiohttp
    # itself reaches here, and what it and the gateway cost a request, under the worker's.
    slots, in_flight = settings.DISPATCH_SLOTS, settings.DISPATCH_MAX_IN_FLIGHT
    progress(f"   plain aiohttp clients as the dispatchers: {slots} x {in_flight} in flight")
    plain = raw_run_as_dispatchers(stack, n, processes=slots, in_flight=in_flight)
    stack.reset_gateway()
    after = raw_limit(stack, ctx.sizes["limit"])
    layout = f"{slots} processes of {in_flight:,} in flight, on uvloop, as the dispatchers"
    reference = f"{bare_client_detail((plain,))} at this latency, {layout}"
    rows = limit_rows(
        3, what, result, (before, after), share=0.6, reference=reference, plain=(plain, layout)
    )
    if ctx.wanted(7):
        data.insert_clients(n, offset=20_000_000, tag="b3l")
        what = f"dispatch at full speed (latency 0), {n:,} clients, with the API load of 7"
        progress(f"7: {what}")
        with BackgroundLoad(stack, ctx.api, run=2) as load:
            loaded, _ = dispatch_row(ctx, 7, "b3l", n, what, share=0.6, timeout=max(180, n / 50))
        rows += [*loaded, *api_rows(load.result, "while a mailing sends at full speed")]
    return rows


@benchmark(11, own_stack=True)
def rate_limit(ctx: Context) -> list[Row]:
    """GATEWAY_RATE shared by two worker processes: what the gateway saw in each 10-second
    window, then the same while the gateway answers 429 to a fifth of the requests."""
    from e2e.stack import Stack

    rate, seconds = ctx.sizes["rate"], ctx.sizes["rate_seconds"]
    env = {**BENCH_ENV, "GATEWAY_RATE": str(rate), "GATEWAY_BURST": str(rate)}
    stack = Stack(database_url=ctx.database_url, redis=ctx.redis, env=env, workers=2)
    stack.start()
    rows: list[Row] = []
    try:
        n = int(rate * seconds * 3)
        data.insert_clients(n, offset=40_000_000, tag="b11")
        progress(f"11: GATEWAY_RATE {rate}/s over two worker processes, {seconds} s")
        api = make_api(stack)
        run_for(stack, api, "b11", seconds)
        rows.append(window_row(stack, "b11", rate, seconds, "no 429"))
        stack.faults(rate_limit_rate=0.2, retry_after=0)
        run_for(stack, api, "b11-429", seconds, create=False)
        rows.append(window_row(stack, "b11", rate, seconds, "a fifth answered 429"))
    finally:
        stack.stop()
    return rows


def run_for(stack: Any, api: Any, tag: str, seconds: float, *, create: bool = True) -> None:
    if create:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        body = {"text": f"bench {tag}", "start_at": now, "end_at": end, "filter": {"tag": tag}}
        api.call("POST", "/api/mailings/", body)
        time.sleep(3)  # launched and sending: the windows start in the steady state
    stack.window_started = time.time()
    time.sleep(seconds)
    stack.window_ended = time.time()


def window_row(stack: Any, tag: str, rate: float, seconds: float, what: str) -> Row:
    arrivals = [
        d["at"]
        for d in stack.deliveries(f"bench {tag}")
        if stack.window_started <= d["at"] < stack.window_ended
    ]
    windows = [
        sum(1 for t in arrivals if start <= t < start + 10)
        for start in (stack.window_started + 10 * i for i in range(int(seconds // 10)))
    ]
    low, high = min(windows) / (10 * rate), max(windows) / (10 * rate)
    met = high * 10 * rate <= 11 * rate and (what != "no 429" or low >= 0.9)
    progress(f"   {what}: 10-second windows {windows} (configured {10 * rate:.0f} each)")
    return Row(
        11,
        f"rate limit {rate:.0f}/s, two worker processes, {what}: lowest and highest 10-s window",
        high * rate,
        "msg/s",
        ">= 0.9 and <= rate + burst" if what == "no 429" else "<= rate + burst",
        met,
        f"windows {windows}; {low:.2f} to {high:.2f} of the rate",
    )
