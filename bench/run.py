"""`make bench`: the performance benchmarks of issue #4, on real processes.

Prints progress, then one table (figure, value, target, met) and writes the same as JSON.

    python -m bench.run                       # full sizes, PostgreSQL + Redis and embedded
    python -m bench.run --size small          # the CI smoke: tiny sizes, same code paths
    python -m bench.run --configs embedded    # only SQLite + the filesystem broker
    python -m bench.run --only 1,2,9          # some benchmarks

Each configuration runs in a child process with its own database: PostgreSQL
`mailing_bench` (dropped and created) or a SQLite file in a temporary folder. The
benchmarks are a registry (bench/registry.py) of small functions in bench/dispatch.py and
bench/data_paths.py; bench/suite.py runs one configuration's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.report import Row, machine, print_table, progress

ROOT = Path(__file__).resolve().parent.parent

SIZES = {
    "full": {
        "dispatch": 100_000,
        "slow": 60_000,
        "embedded": 20_000,
        "fanout": 1_000_000,
        "stats_messages": 10_000_000,
        "stats_mailings": 1_000,
        "import": 1_000_000,
        "limit": 100_000,
        "scale": 12_000,
        "rate": 500,
        "rate_seconds": 60,
    },
    "small": {
        "dispatch": 2_000,
        "slow": 2_000,
        "embedded": 1_000,
        "fanout": 20_000,
        "stats_messages": 100_000,
        "stats_mailings": 100,
        "import": 10_000,
        "limit": 5_000,
        "scale": 500,
        "rate": 100,
        "rate_seconds": 20,
    },
}


def run_child(config: str, size: str, only: set[int], out: Path) -> list[Row]:
    env = {**os.environ, "BENCH_CHILD": config}
    env.pop("DATABASE_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    command = [
        sys.executable,
        "-m",
        "bench.run",
        "--size",
        size,
        "--child",
        config,
        "--out",
        str(out),
    ]
    if only:
        command += ["--only", ",".join(map(str, sorted(only)))]
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    return [Row(**row) for row in json.loads(out.read_text())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--configs", default="postgres,embedded")
    parser.add_argument("--only", default="", help="comma-separated benchmark numbers")
    parser.add_argument("--json", default=str(ROOT / "bench-results" / "latest.json"))
    parser.add_argument("--child", choices=["postgres", "embedded"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    only = {int(n) for n in args.only.split(",") if n.strip()}
    if args.child:
        from bench import suite

        child_rows = suite.run(args.child, SIZES[args.size], only)
        Path(args.out).write_text(json.dumps([asdict(r) for r in child_rows]))
        return 0

    started = time.time()
    progress(f"benchmarks ({args.size}) on {machine()}")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for config in [c.strip() for c in args.configs.split(",") if c.strip()]:
            progress(f"configuration: {config}")
            rows += run_child(config, args.size, only, Path(tmp) / f"{config}.json")
    print()
    table = print_table(rows)
    result: dict[str, Any] = {
        "size": args.size,
        "machine": machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "rows": [asdict(r) for r in rows],
        "table": table,
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    progress(f"written to {out} after {result['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
