"""`make profile`: where a worker's CPU goes while it sends a mailing at full speed.

Starts the stack on `make run`'s defaults against the minimal stub (bench/stub.py), sends a
mailing to ``--clients`` clients, samples every worker process with py-spy meanwhile, and
prints the functions that held the CPU: by own time (the function itself) and by inclusive
time (it and what it called), as shares of all samples of busy threads.

    python -m bench.profile                          # PostgreSQL + Redis, 50,000 clients
    python -m bench.profile --config embedded --clients 20000 --top 40
    python -m bench.profile --latency-ms 200 --jitter 0.5  # a slow gateway (benchmark 3)
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def top_entries(
    collapsed: str, top: int
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """From py-spy's raw (collapsed) stacks: the ``top`` frames by own share of the samples,
    and this project's functions by inclusive share (they and what they called)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";")[1:]]  # [0] is the process
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            if _ours(frame):
                inclusive[frame] += count
    if not total:
        return [], []

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(frame, count / total) for frame, count in counter.most_common(top)]

    return shares(own), shares(inclusive)


def _ours(frame: str) -> bool:
    """A frame of this project's code (not a library's, not the standard library's)."""
    path = frame.rpartition("(")[2]
    return path.split("/", 1)[0] in PROJECT_PACKAGES


PROJECT_PACKAGES = {"accounts", "clients", "config", "core", "delivery", "gateway"} | {
    "mailings",
    "reports",
    "stoplist",
}


def _short(frame: str) -> str:
    """``send (gateway/client.py:148)`` → ``send (gateway/client.py)``; site-packages cut."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=["postgres", "embedded"], default="postgres")
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument("--out", help="keep py-spy's raw stacks in this file")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="the stub's latency")
    parser.add_argument("--jitter", type=float, default=0.0, help="its spread (0.5: ± 50 %%)")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")

    from bench import data
    from bench.harness import BENCH_ENV, STUB_ARGV, make_api, run_mailing, setup_database
    from bench.measure import cpu_seconds_by_thread
    from bench.report import progress
    from e2e.stack import Stack

    url, redis = setup_database(args.config)
    stack = Stack(database_url=url, redis=redis, env=BENCH_ENV, gateway_argv=STUB_ARGV)
    stack.start()
    raw = Path(args.out or tempfile.mkstemp(suffix=".txt")[1])
    try:
        api = make_api(stack)
        data.insert_clients(args.clients, tag="profile")
        if args.latency_ms:
            stack.faults(latency_ms=args.latency_ms, latency_jitter=args.jitter)
        time.sleep(2)  # the worker's processes are up
        worker = stack.procs["worker0"].pid
        # `chrt` (or `nice`) execs celery: the group's leader is the worker's main process.
        recorder = subprocess.Popen(
            [
                *(py_spy, "record", "--pid", str(worker), "--subprocesses", "--format", "raw"),
                *("--rate", str(args.rate), "--output", str(raw), "--nonblocking"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        progress(f"profiling the worker (pid {worker}) while {args.clients:,} messages go out")
        threads_before = cpu_seconds_by_thread([worker])
        result = run_mailing(
            stack, api, "profile", args.clients, timeout=max(120, args.clients / 50)
        )
        threads = cpu_seconds_by_thread([worker])
        recorder.send_signal(signal.SIGINT)
        recorder.wait(30)
    finally:
        stack.stop()
    worker_cpu = result["cpu"].get("worker", 0.0) * 1000 / max(result["delivered"], 1)
    print(f"\n{result['rate']:,.0f} msg/s; worker CPU {worker_cpu:.3f} ms per delivered message")
    by_thread = ", ".join(
        f"{name} {(threads[name] - threads_before[name]) * 1000 / max(result['delivered'], 1):.3f}"
        for name in threads
    )
    print(f"of which (ms per message): {by_thread}\n")
    own, inclusive = top_entries(raw.read_text(), args.top)
    for title, entries in (("own time", own), ("inclusive time, this project's code", inclusive)):
        print(f"top {args.top} by {title} (share of the worker's samples)")
        for frame, share in entries:
            print(f"  {share:6.1%}  {frame}")
        print()
    if not args.out:
        raw.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
