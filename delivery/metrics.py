"""Dispatch metrics. Counters and histograms are written by the worker processes (through
PROMETHEUS_MULTIPROC_DIR when set); the gauges that describe shared state — backlog,
circuit, mailings by status — are read from the database when /metrics is scraped, so
every process reports the same truth. Names are documented in the README."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

MESSAGES = Counter(
    "mailing_messages_total",
    "Messages that reached an outcome in a dispatcher, by outcome "
    "(sent, retry, failed, expired, deferred, released).",
    ["outcome"],
)
ATTEMPTS = Counter(
    "mailing_gateway_attempts_total",
    "Requests to the gateway, by result "
    "(success, transient, rate_limited, permanent, credentials).",
    ["result"],
)
LATENCY = Histogram(
    "mailing_gateway_request_duration_seconds",
    "Time from sending a request to the gateway to classifying its answer.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class Latencies:
    """The gateway's answer times of one dispatcher, counted in memory and added to
    ``LATENCY`` in one go at each flush.

    ``Histogram.observe`` adds to the sum and to a bucket each time, and in multiprocess mode
    each addition takes a lock and writes a memory-mapped file: 3.56-3.73 µs an answer on
    this machine (timeit, three runs), against 0.18-0.25 µs for ``note``. prometheus_client
    has no public call that adds many observations at once, so ``write`` adds each bucket's
    count and the sum to the same values ``observe`` adds to (its ``_upper_bounds``,
    ``_buckets`` and ``_sum``); a test holds the exposition equal to ``observe``'s for the
    same answers.
    """

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._bounds: list[float] = list(histogram._upper_bounds)  # the last one is +Inf
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0

    def note(self, seconds: float) -> None:
        """One answer: in the first bucket whose bound is at least ``seconds``, as
        ``observe`` places it."""
        self._counts[bisect_left(self._bounds, seconds)] += 1
        self._sum += seconds

    def write(self) -> None:
        """Add what was noted since the last write to the histogram."""
        if not any(self._counts):
            return
        self._histogram._sum.inc(self._sum)
        for bucket, count in zip(self._histogram._buckets, self._counts, strict=True):
            if count:
                bucket.inc(count)
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0


IN_FLIGHT = Gauge(
    "mailing_gateway_in_flight",
    "Requests to the gateway in flight right now, over all dispatchers.",
    multiprocess_mode="livesum",
)
CREDENTIAL_ERRORS = Counter(
    "mailing_gateway_credentials_errors_total",
    "401/403 answers from the gateway: our GATEWAY_TOKEN is wrong.",
)

TEST_SENDS = Counter(
    "mailing_test_sends_total",
    "Test-send attempts, by outcome (sent, retry, failed, expired, released).",
    ["outcome"],
)

CIRCUIT_CODES = {"closed": 0, "open": 1, "half_open": 2}


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time, through the same selectors the
    scheduler and the dashboard use."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from delivery.breaker import gateway_state, pause_reason
        from mailings.selectors import mailings_by_status, messages_due_count, statistics_overview
        from stoplist.selectors import stoplist_entries

        due = GaugeMetricFamily(
            "mailing_due_messages",
            "Pending messages whose next attempt is due now (the backlog).",
        )
        due.add_metric([], messages_due_count())
        yield due

        mailings = GaugeMetricFamily("mailing_mailings", "Mailings by status.", labels=["status"])
        for status, count in mailings_by_status().items():
            mailings.add_metric([status], count)
        yield mailings

        messages = GaugeMetricFamily(
            "mailing_messages",
            "Messages by status over every mailing (suppressed: stop list or no consent).",
            labels=["status"],
        )
        for status, count in statistics_overview()["messages"]["by_status"].items():
            messages.add_metric([status], count)
        yield messages

        listed = GaugeMetricFamily("mailing_stoplist_entries", "Numbers on the stop list.")
        listed.add_metric([], stoplist_entries().count())
        yield listed

        circuit = GaugeMetricFamily(
            "mailing_gateway_circuit_state",
            "The gateway circuit breaker: 0 closed, 1 open (paused), 2 half-open (probing).",
        )
        circuit.add_metric([], CIRCUIT_CODES[gateway_state().circuit])
        yield circuit
        paused = GaugeMetricFamily(
            "mailing_gateway_paused",
            "1 while sending is paused, by reason (circuit, credentials).",
            labels=["reason"],
        )
        reason = pause_reason()
        for label in ("circuit", "credentials"):
            paused.add_metric([label], 1 if reason == label else 0)
        yield paused
        yield from rate_gauges()


def rate_gauges() -> Iterator[GaugeMetricFamily]:
    """The configured and the current (after 429s) gateway rate, from the shared bucket."""
    from delivery import ratelimit

    rate, burst = ratelimit.gateway_limit()
    configured = GaugeMetricFamily(
        "mailing_gateway_rate_limit", "GATEWAY_RATE, segments per second (0: no limit)."
    )
    configured.add_metric([], rate)
    yield configured
    current = GaugeMetricFamily(
        "mailing_gateway_rate_effective",
        "The shared effective rate: lowered on 429s, climbing back to GATEWAY_RATE.",
    )
    key = ratelimit.gateway_key(rate, burst)
    current.add_metric([], ratelimit.store().current_rate(key, rate, burst) if rate else 0)
    yield current
