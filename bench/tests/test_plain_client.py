"""The plain clients the dispatch rows are held against, each a process of its own: laid out
as the dispatchers, every request sent once; the raw limit's, on asyncio's loop with
CPython's collector, apart from the benchmark's process; to a real stub over a socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

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


@pytest.fixture
def stub() -> Iterator[SimpleNamespace]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.stub", "--port", str(port)],
        env={**os.environ, "GATEWAY_TOKEN": "bench-token"},
        start_new_session=True,
    )
    try:
        wait_until(lambda: listening(url), timeout=20, what="the stub")
        yield SimpleNamespace(gateway_url=url, token="bench-token", procs={"gateway": process})
    finally:
        process.kill()
        process.wait()


def test_clients_as_the_dispatchers_send_every_message_once_between_them(
    stub: SimpleNamespace,
) -> None:
    run = raw_run_as_dispatchers(stub, 401, processes=2, in_flight=20)

    # 401 between two processes: 201 each, ids 1-201 and 202-402, none sent twice.
    assert stats(stub.gateway_url)["delivered"] == 402
    assert stats(stub.gateway_url)["duplicates"] == 0
    assert run.rate > 0 and run.client_ms > 0


def test_the_raw_limit_is_measured_in_a_process_of_its_own(stub: SimpleNamespace) -> None:
    mine = time.thread_time()
    run = raw_run(stub, 2000, in_flight=50)
    mine = time.thread_time() - mine

    assert stats(stub.gateway_url)["delivered"] == 2000
    # The client's CPU was spent elsewhere: this thread only waited for it.
    assert run.client_ms > 0
    assert mine < run.client_ms * 2000 / 1000 / 3


def test_the_raw_limit_client_runs_on_asyncio_with_the_collector_untuned(
    stub: SimpleNamespace,
) -> None:
    argv = [sys.executable, "-m", "bench.plain_client", "--url", stub.gateway_url]
    env = {**os.environ, "GATEWAY_TOKEN": stub.token}
    untuned = [*argv, "--requests", "10", "--in-flight", "5", "--loop", "asyncio"]
    as_service = [*argv, "--requests", "10", "--in-flight", "5", "--first-id", "11"]

    plain = json.loads(
        subprocess.run(
            [*untuned, "--collector", "default"], env=env, capture_output=True, check=True
        ).stdout
    )
    tuned = json.loads(subprocess.run(as_service, env=env, capture_output=True, check=True).stdout)

    assert plain["loop"] == "asyncio" and plain["collector"] == [700, 10, 10]
    assert tuned["loop"] == "uvloop" and tuned["collector"] != [700, 10, 10]
    assert stats(stub.gateway_url)["delivered"] == 20
