"""Prometheus metrics, correct across several gunicorn and Celery processes.

When ``PROMETHEUS_MULTIPROC_DIR`` is set (``make run`` and the container set it), every
process writes its samples there and ``/metrics`` aggregates them; otherwise the process's
own registry is served. Metric names are documented in the README.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

HTTP_REQUESTS = Counter(
    "mailing_http_requests_total",
    "HTTP requests served, by method, view and status code.",
    ["method", "view", "status"],
)
HTTP_LATENCY = Histogram(
    "mailing_http_request_duration_seconds",
    "Time to serve an HTTP request, by method and view.",
    ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


# Collectors read at scrape time, registered by the apps that own what they describe (in
# their AppConfig.ready), so this module imports no domain app.
_SCRAPE_COLLECTORS: list[Collector] = []


def register_scrape_collector(collector: Collector) -> None:
    if all(type(c) is not type(collector) for c in _SCRAPE_COLLECTORS):
        _SCRAPE_COLLECTORS.append(collector)


def render_metrics() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(REGISTRY)  # this process's own metrics
    for collector in _SCRAPE_COLLECTORS:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST


KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


class RequestMetricsMiddleware:
    """Counts requests and their latency by view name (never by raw path: ids would make
    the label set unbounded)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        view = match.view_name if match is not None else "<unmatched>"
        # Known values only: a client may send any method name, and each new label value
        # would be a new series for ever (SPEC 8.1).
        method = request.method if request.method in KNOWN_METHODS else "other"
        HTTP_LATENCY.labels(method, view).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(method, view, str(response.status_code)).inc()
        return response
