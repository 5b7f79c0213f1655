"""The plain clients the dispatch rows are held against: in processes laid out as the
dispatchers, every request sent once, to a real stub over a socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from types import SimpleNamespace

from bench.harness import raw_run, raw_run_as_dispatchers
from e2e.stack import free_port, wait_until


def stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/stats", timeout=5) as answer:
        return json.loads(answer.read())


def listening(url: str) -> bool:
    try:
        stats(url)
    except OSError:
        return False
    return True


def test_clients_as_the_dispatchers_send_every_message_once_between_them() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stub = subprocess.Popen(
        [sys.executable, "-m", "bench.stub", "--port", str(port)],
        env={**os.environ, "GATEWAY_TOKEN": "bench-token"},
        start_new_session=True,
    )
    try:
        wait_until(lambda: listening(url), timeout=20, what="the stub")
        stack = SimpleNamespace(gateway_url=url, token="bench-token", procs={"gateway": stub})

        run = raw_run_as_dispatchers(stack, 401, processes=2, in_flight=20)

        # 401 between two processes: 201 each, ids 1-201 and 202-402, none sent twice.
        assert stats(url)["delivered"] == 402
        assert stats(url)["duplicates"] == 0
        assert run.rate > 0 and run.client_ms > 0

        in_process = raw_run(stack, 100, in_flight=10)
        assert stats(url)["duplicates"] == 100  # the same ids again: the stub saw them
        assert in_process.rate > 0
    finally:
        stub.kill()
        stub.wait()
