"""How each process of the service is started: one definition for `make run`
(scripts/run_all.py) and the end-to-end tests and benchmarks (e2e/stack.py).

Containers start the same roles (Dockerfile, docker-compose.yml, deploy/k8s/).
"""

from __future__ import annotations

import os
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


def worker(env: Mapping[str, str], *, name: str | None = None) -> list[str]:
    slots = int(env.get("DISPATCH_SLOTS", "2"))
    argv = [
        # Sending yields the CPU to the API when both want it (the API stays fast).
        "nice",
        "-n",
        env.get("WORKER_NICE", "10"),
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
