"""The whole service as real processes, for end-to-end tests and benchmarks.

``Stack`` starts the gateway emulator, Celery worker(s), Celery beat and gunicorn against a
given database, each in its own process group, with the same commands as ``make run``. With a
Redis broker it runs a private ``redis-server`` on a free port, so a test can restart it
without touching anyone else's; otherwise it uses the filesystem broker in a folder of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from config import processes

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    check: Callable[[], Any], *, timeout: float, interval: float = 0.1, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(interval)


def database_url(settings_dict: dict[str, Any]) -> str:
    """A DATABASE_URL for the database Django is connected to (the test database)."""
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


class Stack:
    def __init__(
        self,
        *,
        database_url: str,
        redis: bool,
        env: dict[str, str] | None = None,
        workers: int = 1,
        web: bool = True,
        emulator_args: list[str] | None = None,
        gateway_argv: list[str] | None = None,
    ) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="mailing-stack-"))
        self.token = "stack-gateway-token"
        self.gateway_port = free_port()
        self.web_port = free_port()
        self.redis_port = free_port() if redis else None
        self.gateway_url = f"http://127.0.0.1:{self.gateway_port}"
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._workers = workers
        self._web = web
        self._emulator_args = emulator_args or []
        # Another gateway than the emulator (the benchmarks' stub): its argv, without --port.
        self._gateway_argv = gateway_argv
        broker = f"redis://127.0.0.1:{self.redis_port}/0" if redis else "filesystem://"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": os.environ.get("SECRET_KEY", "stack-secret-" + "x" * 40),
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker,
            "BROKER_DIR": str(self.tmp / "broker"),
            "DATA_DIR": str(self.tmp),
            "STATIC_ROOT": str(self.tmp / "static"),
            "GATEWAY_URL": self.gateway_url,
            "GATEWAY_TOKEN": self.token,
            "PROMETHEUS_MULTIPROC_DIR": str(self.tmp / "metrics"),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            **(env or {}),
        }
        (self.tmp / "metrics").mkdir()

    # --- processes ----------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 -- lives as long as the process
        self.procs[name] = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env or self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def start_redis(self) -> None:
        if self.redis_port is None:
            return
        self._spawn(
            "redis",
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
        wait_until(lambda: self._port_open(self.redis_port or 0), timeout=10, what="redis")

    def start_worker(self, name: str = "worker") -> None:
        self._spawn(name, processes.worker(self.env, name=name))

    def start_beat(self) -> None:
        schedule = self.tmp / "celerybeat-schedule"
        self._spawn("beat", processes.beat(self.env, schedule=schedule, loglevel="WARNING"))

    def start_web(self, *, wait: bool = True) -> None:
        self._spawn("web", processes.web(self.env, host="127.0.0.1", port=self.web_port))
        if wait:
            wait_until(lambda: self._port_open(self.web_port), timeout=30, what="gunicorn")

    def start(self) -> Stack:
        self.start_redis()
        if self._gateway_argv is not None:
            self._spawn("gateway", [*self._gateway_argv, "--port", str(self.gateway_port)])
        else:
            self._spawn("gateway", processes.gateway(self.gateway_port, *self._emulator_args))
        for n in range(self._workers):
            self.start_worker(f"worker{n}")
        self.start_beat()
        if self._web:
            # The admin's pages need the collected static files (and their manifest).
            subprocess.run(
                [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
                cwd=ROOT,
                env=self.env,
                check=True,
            )
            self.start_web()
        wait_until(lambda: self._port_open(self.gateway_port), timeout=15, what="the emulator")
        return self

    def kill(self, name: str, sig: int = signal.SIGKILL, grace: float = 15.0) -> None:
        """SIGKILL goes to the whole process group (no cleanup anywhere); other signals to
        the main process, which stops its children; after ``grace`` seconds, SIGKILL."""
        proc = self.procs.pop(name)
        try:
            if sig == signal.SIGKILL:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
            proc.wait(grace)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def restart_redis(self, down_seconds: float = 2.0) -> None:
        self.kill("redis", signal.SIGKILL)
        time.sleep(down_seconds)
        self.start_redis()

    def flush_filesystem_broker(self) -> int:
        removed = 0
        for path in (self.tmp / "broker").rglob("*"):
            if path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def stop(self, keep_logs: bool = False) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM if name != "redis" else signal.SIGKILL)
        if not keep_logs:
            shutil.rmtree(self.tmp, ignore_errors=True)

    @staticmethod
    def _port_open(port: int) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    # --- the emulator -------------------------------------------------------------------

    def _gateway(self, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.gateway_url}{path}",
            data=data,
            method="POST" if data is not None or path == "/reset" else "GET",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def faults(self, **changes: Any) -> dict[str, Any]:
        return self._gateway("/control", changes)

    def gateway_stats(self) -> dict[str, Any]:
        return self._gateway("/stats")

    def deliveries(self, text: str | None = None) -> list[dict[str, Any]]:
        query = f"?text={urllib.parse.quote(text)}" if text else ""
        return self._gateway(f"/deliveries{query}")

    def reset_gateway(self) -> None:
        """Clear the emulator's counts and undo every fault a test or benchmark set."""
        self._gateway("/reset")
