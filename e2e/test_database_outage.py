"""The database dies mid-mailing (SPEC 8.2): a private PostgreSQL, killed with SIGKILL (the
postmaster and every backend) for 15 s and for 60 s while ~400 requests are in flight, then
started again. Every message is delivered, none twice; the mailing finishes by itself; the
API answers 503 throughout; the counters equal the rows; no process exits."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from e2e.api import Api
from e2e.conftest import STACK_ENV
from e2e.postgres import (
    PrivatePostgres,
    insert_clients,
    is_final,
    mailing_state,
    migrated_database,
    postgres_bin,
)
from e2e.stack import Stack, wait_until

pytestmark = [
    pytest.mark.skipif(postgres_bin() is None, reason="no PostgreSQL server binaries"),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="one run is enough: it runs in the PostgreSQL pass of `.ci/run`",
    ),
]

CLIENTS = 3000
USER, PASSWORD = "outage", "outage-pass-1"


@pytest.fixture(scope="module")
def outage_stack() -> Iterator[tuple[Stack, PrivatePostgres, Api]]:
    pg = PrivatePostgres().start()
    url = migrated_database(pg, username=USER, password=PASSWORD)
    stack_env = {
        **STACK_ENV,
        "DISPATCH_MAX_IN_FLIGHT": "200",
        "GATEWAY_TIMEOUT_SECONDS": "5",
        "DISPATCH_LEASE_SECONDS": "10",
        "CONN_MAX_AGE": "0",
    }
    stack = Stack(database_url=url, redis=shutil.which("redis-server") is not None, env=stack_env)
    stack.start()
    try:
        yield stack, pg, Api(stack.web_url, USER, PASSWORD)
    finally:
        stack.stop(keep_logs=True)
        print(f"\noutage stack logs: {stack.tmp}")
        pg.stop()


def probe(base_url: str, token: str) -> tuple[int, Any, str | None]:
    request = urllib.request.Request(
        f"{base_url}/api/clients/?page_size=1", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), response.headers["Retry-After"]
    except urllib.error.HTTPError as exc:
        body = exc.read()
        return exc.code, json.loads(body) if body else None, exc.headers["Retry-After"]


@pytest.mark.parametrize("down_seconds", [15, 60])
def test_a_database_outage_loses_nothing_and_sends_nothing_twice(
    outage_stack: tuple[Stack, PrivatePostgres, Api], down_seconds: int
) -> None:
    stack, pg, api = outage_stack
    stack.reset_gateway()
    text = f"Through a {down_seconds} s database outage"
    insert_clients(pg.url, tag=f"outage{down_seconds}", count=CLIENTS, offset=down_seconds * 10**5)
    stack.faults(latency_ms=1500, latency_jitter=0.2)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    created = api.call(
        "POST",
        "/api/mailings/",
        {"text": text, "start_at": now, "end_at": end, "filter": {"tag": f"outage{down_seconds}"}},
    )
    wait_until(lambda: stack.gateway_stats()["delivered"] >= 300, timeout=60, what="sending")

    pg.kill()
    killed_at = time.monotonic()
    delivered_at_kill = stack.gateway_stats()["delivered"]
    answers = []
    while time.monotonic() - killed_at < down_seconds:
        answers.append(probe(stack.web_url, api.token))
        time.sleep(0.5)
    pg.start()
    wait_until(lambda: is_final(pg.url, created["id"]), timeout=240, interval=1, what="finish")

    deliveries = stack.deliveries(text)
    ids = [d["id"] for d in deliveries]
    duplicates = len(ids) - len(set(ids))
    row = mailing_state(pg.url, created["id"])
    web_log = (stack.tmp / "web.log").read_text(errors="replace")
    print(
        f"\n{down_seconds} s outage: {delivered_at_kill} delivered before the kill, "
        f"{len(set(ids))} unique deliveries, {duplicates} duplicates, {len(answers)} API "
        f"answers during the outage: {sorted({a[0] for a in answers})}, rows {row['rows']}, "
        f"counters {row['counters']}"
    )
    assert answers and all(status == 503 for status, _, _ in answers)
    assert all(body and body.get("detail") and retry for _, body, retry in answers)
    assert (len(set(ids)), duplicates) == (CLIENTS, 0)
    assert row["rows"] == {"sent": CLIENTS}
    assert row["counters"] == row["rows"]
    assert "Traceback" not in web_log
    for name, proc in stack.procs.items():
        assert proc.poll() is None, f"{name} exited"
