"""The dispatch rows' figures: the rate against the raw limits' mean, and against the plain
clients run in the dispatchers' place."""

from __future__ import annotations

from bench.dispatch import limit_rows
from bench.harness import RawRun


def test_the_slow_gateway_row_shows_the_dispatch_against_the_limit_and_the_plain_clients() -> None:
    result = {
        "rate": 4_500.0,
        "duplicates": 0,
        "sent": 60_000,
        "n": 60_000,
        "delivered": 60_000,
        "cpu": {"worker": 12.0, "gateway": 9.0},
    }
    limits = (RawRun(7_000.0, 0.1, 0.05), RawRun(8_000.0, 0.1, 0.05))
    plain = RawRun(5_000.0, 0.15, 0.14)

    row, cpu = limit_rows(
        3, "dispatch, 200 ms", result, limits, share=0.6, reference="", plain=(plain, "2 x 1,000")
    )

    assert row.met is True  # 4,500 of a mean limit of 7,500: 0.60
    assert row.detail.startswith("0.60 of a raw limit of 7,500 req/s;")
    assert "raw limits measured 7,000 and 8,000" in row.detail
    assert "reach 5,000 req/s at this latency: 0.67 of the limit" in row.detail
    assert row.detail.endswith("the dispatch 0.90 of theirs")
    assert cpu.value == 0.2  # 12 s of the worker's CPU over 60,000 messages
