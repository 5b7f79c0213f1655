"""How each process of the service is started: one definition for `make run`
(scripts/run_all.py) and the end-to-end tests and benchmarks (e2e/stack.py).

Containers start the same roles (Dockerfile, docker-compose.yml, deploy/k8s/).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

BIN = Path(sys.executable).parent


def default_web_concurrency() -> int:
    """gunicorn's advice, 2 x cores + 1, at most 8."""
    return min(2 * (os.cpu_count() or 1) + 1, 8)


def web(env: Mapping[str, str], *, host: str = "0.0.0.0", port: str | int = 8000) -> list[str]:  # noqa: S104
    return [
        str(BIN / "gunicorn"),
        "config.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--workers",
        env.get("WEB_CONCURRENCY", str(default_web_concurrency())),
        "--threads",
        "4",
        # Requests are logged by the app (core/middleware.py), with the ids they touch.
        "--config",
        "python:config.gunicorn",
    ]


def worker_priority(env: Mapping[str, str]) -> list[str]:
    """The command that starts the Celery workers below the API (``WORKER_NICE``): ``idle``,
    the default, is Linux's ``SCHED_IDLE`` policy (``chrt --idle 0``): a worker runs only on
    CPU that the web, PostgreSQL and the rest leave unused, and any of them that wakes takes
    the CPU from it at once; a number from 0 to 19 is that ``nice`` level, under which a
    waking request may still wait out the worker's time slice. Without ``chrt`` (not Linux),
    ``idle`` is ``nice -n 19``."""
    value = env.get("WORKER_NICE", "").strip() or "idle"  # empty: the default
    if value == "idle":
        return ["chrt", "--idle", "0"] if shutil.which("chrt") else ["nice", "-n", "19"]
    if value.isascii() and value.isdigit() and 0 <= int(value) <= 19:
        return ["nice", "-n", value]
    raise ValueError(f"WORKER_NICE must be idle or a whole number from 0 to 19, not {value!r}")


def worker(env: Mapping[str, str], *, name: str | None = None) -> list[str]:
    slots = int(env.get("DISPATCH_SLOTS", "2"))
    argv = [
        # Sending yields the CPU to the API when both want it (the API stays fast).
        *worker_priority(env),
        str(BIN / "celery"),
        "-A",
        "config",
        "worker",
        "--queues",
        "celery,dispatch",
        "--loglevel",
        "INFO",
        # One process per dispatch slot, plus one so the scheduler tick never waits.
        "--concurrency",
        env.get("WORKER_CONCURRENCY", str(slots + 1)),
    ]
    if name:
        argv += ["--hostname", f"{name}@%h"]
    return argv


def beat(env: Mapping[str, str], *, schedule: Path, loglevel: str = "INFO") -> list[str]:
    return [
        str(BIN / "celery"),
        "-A",
        "config",
        "beat",
        "--loglevel",
        loglevel,
        "--schedule",
        str(schedule),
    ]


def gateway(port: str | int, *extra: str) -> list[str]:
    return [str(BIN / "python"), "-m", "emulator", "--port", str(port), *extra]
