"""The dispatcher's latency histogram, noted in memory and written per flush."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram

from delivery.metrics import LATENCY, Latencies

# Each side of a bound, a bound itself (a bucket includes its bound), beyond the last one.
ANSWERS = [0.0, 0.004, 0.005, 0.0051, 0.2, 0.2000001, 0.31, 9.99, 10.0, 10.5, 120.0, 0.2]


def samples(histogram: Histogram) -> dict[tuple[str, str], float]:
    """The histogram's exposition: (sample suffix, its ``le``) -> value."""
    (family,) = histogram.collect()
    return {
        (sample.name.removeprefix(family.name), sample.labels.get("le", "")): sample.value
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def histograms() -> tuple[Histogram, Histogram]:
    registry = CollectorRegistry()
    buckets = LATENCY._upper_bounds[:-1]  # the service's own bounds (+Inf is added)
    return (
        Histogram("observed_seconds", "observe", buckets=buckets, registry=registry),
        Histogram("batched_seconds", "Latencies", buckets=buckets, registry=registry),
    )


def test_a_write_adds_what_observe_would_have_added_answer_by_answer() -> None:
    observed, batched = histograms()
    latencies = Latencies(batched)

    for seconds in ANSWERS[:5]:
        observed.observe(seconds)
        latencies.note(seconds)
    latencies.write()
    for seconds in ANSWERS[5:]:
        observed.observe(seconds)
        latencies.note(seconds)
    latencies.write()

    assert samples(batched) == pytest.approx(samples(observed))
    assert samples(batched)[("_count", "")] == len(ANSWERS)
    assert samples(batched)[("_bucket", "0.005")] == 3  # 0.0, 0.004 and 0.005 itself


def test_nothing_is_written_twice_or_before_a_write() -> None:
    _, batched = histograms()
    latencies = Latencies(batched)

    latencies.note(0.1)
    assert samples(batched)[("_count", "")] == 0
    latencies.write()
    latencies.write()

    assert samples(batched)[("_count", "")] == 1
    assert samples(batched)[("_sum", "")] == pytest.approx(0.1)
