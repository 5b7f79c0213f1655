"""The benchmark registry runs what was asked for, in an order where nothing stops the
workers before a sending benchmark has run."""

from __future__ import annotations

from bench import suite  # noqa: F401 -- registers every benchmark
from bench.registry import REGISTRY, Selection


def chosen(config: str, only: set[int] | None = None) -> list[str]:
    selected = Selection(config, only or set())
    return [b.name for b in sorted((b for b in REGISTRY if selected(b)), key=lambda b: b.stage)]


def test_every_benchmark_of_a_configuration_runs_with_sending_before_the_quiet_ones() -> None:
    assert chosen("postgres") == [
        "scale_out",
        "rate_limit",
        "limit",
        "dispatch_postgres",
        "api_alone",
        "dispatch_slow_gateway",
        "stop_sending",
        "bulk_import",
        "fanout",
        "statistics",
    ]
    assert chosen("embedded") == ["limit", "dispatch_embedded"]


def test_only_selects_by_row_number_and_keeps_the_limit_others_compare_with() -> None:
    assert chosen("postgres", {2}) == ["limit", "dispatch_postgres"]
    assert chosen("postgres", {5}) == ["limit", "stop_sending", "bulk_import", "fanout"]
    assert chosen("embedded", {2}) == ["limit"]


def test_every_row_number_from_1_to_13_has_a_benchmark() -> None:
    assert set().union(*(b.numbers for b in REGISTRY)) == set(range(1, 14))
