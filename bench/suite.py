"""One configuration's run, in a child process of bench/run.py: its database, then every
registered benchmark that applies (bench/registry.py), in order."""

from __future__ import annotations

import os

from bench import data_paths, dispatch  # noqa: F401 -- importing registers their benchmarks
from bench.harness import BENCH_ENV, STUB_ARGV, make_api, setup_database
from bench.registry import REGISTRY, Context, Selection
from bench.report import Row, progress


def run(config: str, sizes: dict[str, int], only: set[int]) -> list[Row]:
    from e2e.stack import Stack

    url, redis = setup_database(config)
    ctx = Context(config=config, sizes=sizes, database_url=url, redis=redis, only=only)
    selected = Selection(config, only)
    chosen = sorted((b for b in REGISTRY if selected(b)), key=lambda b: b.stage)
    rows: list[Row] = []
    for bench in [b for b in chosen if b.own_stack]:
        rows += bench.run(ctx)
    shared = [b for b in chosen if not b.own_stack]
    if only and not any(set(b.numbers) & only for b in shared if not b.always):
        return rows  # only benchmarks with stacks of their own were asked for
    progress(f"database {url.split('@')[-1]}, broker {'redis' if redis else 'filesystem'}")
    ctx.stack = Stack(database_url=url, redis=redis, env=BENCH_ENV, gateway_argv=STUB_ARGV)
    ctx.stack.start()
    try:
        ctx.api = make_api(ctx.stack)
        for bench in shared:
            rows += bench.run(ctx)
    finally:
        # BENCH_KEEP_LOGS=1 keeps the processes' logs (the stack's folder is printed).
        keep = bool(os.environ.get("BENCH_KEEP_LOGS"))
        if keep:
            progress(f"logs kept in {ctx.stack.tmp}")
        ctx.stack.stop(keep_logs=keep)
    return rows
