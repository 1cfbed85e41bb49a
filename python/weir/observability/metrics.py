"""Every Prometheus metric Weir exports, in one place. Labels come from configuration, never from requests.

Per upstream route the label children are resolved once (`RouteMetrics`), so the hot path does no label lookup.
With several granian workers, PROMETHEUS_MULTIPROC_DIR is set by `weir serve` and /metrics aggregates them.
"""

from __future__ import annotations

import asyncio
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# LLM calls are long: the default 5 ms–10 s buckets are wrong for them.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
TOKEN_TYPES = ("input", "cached", "output", "reasoning")
STATUS_CLASSES = ("2xx", "4xx", "5xx")

REQUESTS = Counter(
    "weir_requests_total",
    "Requests answered by the gateway, by route and status class",
    ["route", "status_class"],
)
UPSTREAM_REQUESTS = Counter(
    "weir_upstream_requests_total",
    "Calls sent to an upstream, by provider, configured model and status class",
    ["provider", "model", "status_class"],
)
UPSTREAM_DURATION = Histogram(
    "weir_upstream_duration_seconds",
    "Upstream call duration until the last byte",
    ["provider", "model"],
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_TTFB = Histogram(
    "weir_upstream_time_to_first_byte_seconds",
    "Time from sending the upstream request to the first response body byte",
    ["provider", "model"],
    buckets=LATENCY_BUCKETS,
)
TOKENS = Counter("weir_tokens_total", "Tokens metered, by type", ["provider", "model", "type"])
COST = Counter("weir_cost_usd_total", "Money charged to wallets, in USD", ["provider", "model"])
IN_FLIGHT = Gauge("weir_in_flight_requests", "Upstream calls in progress", ["provider"], multiprocess_mode="livesum")
USAGE_QUEUE = Gauge("weir_usage_queue_depth", "Usage records waiting to be committed", multiprocess_mode="livesum")
EVENT_LOOP_TASKS = Gauge(
    "weir_event_loop_tasks", "asyncio tasks alive in the worker that answered the scrape", multiprocess_mode="livesum"
)
USAGE_WRITE_ERRORS = Counter("weir_usage_write_errors_total", "Failed group commits of usage records (retried)")


class RouteMetrics:
    """The label children of one (provider, model) route, resolved once at start-up."""

    __slots__ = ("by_status", "cost", "duration", "in_flight", "tokens", "ttfb")

    def __init__(self, provider: str, model: str) -> None:
        self.by_status = {c: UPSTREAM_REQUESTS.labels(provider, model, c) for c in STATUS_CLASSES}
        self.duration = UPSTREAM_DURATION.labels(provider, model)
        self.ttfb = UPSTREAM_TTFB.labels(provider, model)
        self.tokens = tuple(TOKENS.labels(provider, model, t) for t in TOKEN_TYPES)
        self.cost = COST.labels(provider, model)
        self.in_flight = IN_FLIGHT.labels(provider)


class RouteCounter:
    """weir_requests_total children for one gateway route."""

    __slots__ = ("by_status",)

    def __init__(self, route: str) -> None:
        self.by_status = {c: REQUESTS.labels(route, c) for c in STATUS_CLASSES}

    def observe(self, status: int) -> None:
        self.by_status[status_class(status)].inc()


def status_class(status: int) -> str:
    return "2xx" if status < 400 else "4xx" if status < 500 else "5xx"


def exposition() -> tuple[bytes, str]:
    EVENT_LOOP_TASKS.set(len(asyncio.all_tasks()))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
