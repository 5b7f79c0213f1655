"""The shared token buckets: refill, batches, refunds and AIMD, in both stores."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from delivery import ratelimit
from delivery.ratelimit import State, halve, refill
from e2e.stack import free_port, wait_until


def test_a_new_bucket_starts_full_and_refills_at_its_rate() -> None:
    start = refill(None, 100.0, configured=10, burst=20)
    assert (start.tokens, start.rate) == (20, 10)

    start.tokens = 0
    later = refill(start, 101.5, configured=10, burst=20)
    assert later.tokens == pytest.approx(15)
    assert refill(later, 200.0, configured=10, burst=20).tokens == 20  # never above the burst


def test_a_429_halves_the_rate_once_a_second_and_it_climbs_back_additively() -> None:
    state = State(tokens=0, stamp=0.0, rate=100, rate_stamp=0.0, decreased_at=0.0)

    slowed = halve(state, 10.0, configured=100)
    assert slowed.rate == 50
    assert halve(slowed, 10.5, configured=100).rate == 50  # the same burst of 429s
    assert halve(slowed, 11.0, configured=100).rate == 25
    floor = State(0, 0.0, 5, 0.0, 0.0)
    assert halve(floor, 10.0, configured=100).rate == 5  # never below a twentieth

    climbing = refill(slowed, 12.0, configured=100, burst=100)  # +5 a second
    assert climbing.rate == pytest.approx(60)
    assert refill(climbing, 30.0, configured=100, burst=100).rate == 100


@pytest.fixture
def redis_url() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(port=port)
        wait_until(lambda: _pings(client), timeout=10, what="redis")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait(5)


def _pings(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


@pytest.fixture(params=["database", "redis"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "database":
        return ratelimit.DatabaseStore()
    return ratelimit.RedisStore(request.getfixturevalue("redis_url"))


@pytest.mark.django_db
def test_takes_never_exceed_the_burst_plus_the_rate_and_refunds_come_back(store: Any) -> None:
    key = f"test:{uuid.uuid4()}"
    started = time.time()
    taken = store.take(key=key, wanted=500, rate=100, burst=50)
    assert taken == 50  # a full bucket: the burst, no more
    assert (
        store.take(key=key, wanted=500, rate=100, burst=50)
        <= int((time.time() - started) * 100) + 1
    )

    store.refund(key=key, tokens=30, rate=100, burst=50)
    assert store.take(key=key, wanted=30, rate=100, burst=50) == 30


@pytest.mark.django_db
def test_a_slow_down_is_shared_by_everyone_using_the_bucket(store: Any) -> None:
    key = f"test:{uuid.uuid4()}"
    store.take(key=key, wanted=1, rate=100, burst=100)

    assert store.slow_down(key=key, rate=100, burst=100) == pytest.approx(50, abs=1)
    assert store.current_rate(key=key, rate=100, burst=100) == pytest.approx(50, abs=1)
