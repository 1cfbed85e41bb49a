"""Every Prometheus metric Weir exports, in one place. Labels come from configuration, never from requests.

Per upstream route the label children are resolved once (`RouteMetrics`), so the hot path does no label lookup.
With several granian workers, PROMETHEUS_MULTIPROC_DIR is set by `weir serve` and /metrics aggregates them.
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

# No `_created` series: one per counter and histogram child, a third of the exposition, and nobody reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

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
# Attempts: a call may try several routes (failover); these count each try, per route.
FAILURE_CAUSES = (
    "connect",  # refused, reset or unresolvable before the answer began
    "timeout",  # no first byte within the provider's timeout
    "disconnect",  # the upstream closed the connection before it answered
    "empty",  # a 2xx stream that ended before its first byte
    "status_429",
    "status_5xx",  # 500, 502, 503, 504, 529
    "status_4xx",  # any other error status: the request's own fault, not failed over
    "auth",  # 401/403: the provider refused its key (retired)
    "invalid_response",  # a 2xx whose body is not the dialect's answer
)
ATTEMPTS = Counter("weir_route_attempts_total", "Upstream attempts, by route", ["provider", "model"])
FAILURES = Counter(
    "weir_route_failures_total", "Failed upstream attempts, by route and cause", ["provider", "model", "cause"]
)
FAILOVERS = Counter(
    "weir_route_failovers_total",
    "Calls that left this route for the next candidate after it failed",
    ["provider", "model"],
)
BUDGET_EXHAUSTED = Counter(
    "weir_route_retry_budget_exhausted_total",
    "Calls that could not fail over from this route because the model's retry budget was spent",
    ["provider", "model"],
)
BREAKER_STATE = Gauge(
    "weir_route_breaker_state",
    "Circuit breaker of the route: 0 closed, 1 half-open (one trial call), 2 open (skipped)",
    ["provider", "model"],
    multiprocess_mode="max",
)
BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}
# Limits (weir/limits/, docs/limits.md). Label values are limit names and backend operations: fixed sets.
LIMIT_REFUSALS = Counter(
    "weir_limit_refusals_total", "Calls refused by a key's limit, by the limit that refused", ["limit"]
)
LIMITS_BACKEND_ERRORS = Counter(
    "weir_limits_backend_errors_total",
    "Calls to the limits' backend (Redis) that failed, by operation (admit, release, renew); a failed admission "
    "follows limits.on_backend_error",
    ["operation"],
)


class HasState(Protocol):
    @property
    def state(self) -> str: ...


class _Tally:
    """A histogram's observations since the last flush: bucket counts and the sum, in plain Python."""

    __slots__ = ("buckets", "child", "sum")

    def __init__(self, child: Histogram) -> None:
        self.child = child
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.buckets[bisect_left(LATENCY_BUCKETS, value)] += 1
        self.sum += value

    def flush(self) -> None:
        # prometheus_client has no bulk observe; its Histogram keeps per-bucket values and a sum, which we add
        # to directly (the same two steps its observe() takes, once per bucket instead of once per call).
        buckets, self.buckets = self.buckets, [0] * len(self.buckets)
        total, self.sum = self.sum, 0.0
        if not any(buckets):
            return
        child = self.child
        child._sum.inc(total)
        for i, n in enumerate(buckets):
            if n:
                child._buckets[i].inc(n)


class InFlight:
    """Upstream calls in progress to one provider (shared by its routes), exported at each flush."""

    __slots__ = ("gauge", "n")

    def __init__(self, provider: str) -> None:
        self.n = 0
        self.gauge = IN_FLIGHT.labels(provider)

    def flush(self) -> None:
        self.gauge.set(self.n)


_IN_FLIGHT: dict[str, InFlight] = {}


def _in_flight(provider: str) -> InFlight:
    if provider not in _IN_FLIGHT:
        _IN_FLIGHT[provider] = InFlight(provider)
        _ALL.append(_IN_FLIGHT[provider])
    return _IN_FLIGHT[provider]


class RouteMetrics:
    """Per (provider, model) route: counts kept as plain attributes on the hot path (an increment costs ~0.05 us
    against ~0.8 us for a prometheus_client child), flushed into the exported metrics by `flush_all()` every
    second and before every scrape."""

    __slots__ = (
        "_attempt_children",
        "_children",
        "attempts",
        "breaker",
        "budget_exhausted",
        "cost_usd",
        "duration",
        "failovers",
        "failures",
        "in_flight",
        "status",
        "tokens",
        "ttfb",
    )

    def __init__(self, provider: str, model: str, breaker: HasState | None = None) -> None:
        self.status = [0, 0, 0]  # 2xx, 4xx, 5xx
        self.tokens = [0, 0, 0, 0]  # TOKEN_TYPES order
        self.cost_usd = 0.0
        self.attempts = 0
        self.failovers = 0
        self.budget_exhausted = 0
        self.failures = [0] * len(FAILURE_CAUSES)
        self.breaker = breaker
        self.duration = _Tally(UPSTREAM_DURATION.labels(provider, model))
        self.ttfb = _Tally(UPSTREAM_TTFB.labels(provider, model))
        self.in_flight = _in_flight(provider)
        self._children = (
            [UPSTREAM_REQUESTS.labels(provider, model, c) for c in STATUS_CLASSES],
            [TOKENS.labels(provider, model, t) for t in TOKEN_TYPES],
            COST.labels(provider, model),
        )
        self._attempt_children = (
            ATTEMPTS.labels(provider, model),
            FAILOVERS.labels(provider, model),
            BUDGET_EXHAUSTED.labels(provider, model),
            [FAILURES.labels(provider, model, c) for c in FAILURE_CAUSES],
            BREAKER_STATE.labels(provider, model),
        )
        _ALL.append(self)

    def count(self, status: int) -> None:
        self.status[0 if status < 400 else 1 if status < 500 else 2] += 1

    def failure(self, cause: str) -> None:
        self.failures[FAILURE_CAUSES.index(cause)] += 1

    def flush(self) -> None:
        by_status, by_token, cost = self._children
        attempts, failovers, exhausted, failures, breaker = self._attempt_children
        for values, children in ((self.status, by_status), (self.tokens, by_token), (self.failures, failures)):
            for i, n in enumerate(values):
                if n:
                    children[i].inc(n)
                    values[i] = 0
        if self.cost_usd:
            cost.inc(self.cost_usd)
            self.cost_usd = 0.0
        for name, child in (("attempts", attempts), ("failovers", failovers), ("budget_exhausted", exhausted)):
            n = getattr(self, name)
            if n:
                child.inc(n)
                setattr(self, name, 0)
        if self.breaker is not None:
            breaker.set(BREAKER_VALUES.get(self.breaker.state, 0))
        self.duration.flush()
        self.ttfb.flush()


class RouteCounter:
    """weir_requests_total for one gateway route, kept like RouteMetrics."""

    __slots__ = ("children", "status")

    def __init__(self, route: str) -> None:
        self.children = [REQUESTS.labels(route, c) for c in STATUS_CLASSES]
        self.status = [0, 0, 0]
        _ALL.append(self)

    def observe(self, status: int) -> None:
        self.status[0 if status < 400 else 1 if status < 500 else 2] += 1

    def flush(self) -> None:
        for i, n in enumerate(self.status):
            if n:
                self.children[i].inc(n)
                self.status[i] = 0


_ALL: list[RouteMetrics | RouteCounter | InFlight] = []


def flush_all() -> None:
    for item in _ALL:
        item.flush()


async def flush_every(seconds: float = 1.0) -> None:
    """Run for the life of a worker, so that with several workers every one's counts reach the shared files."""
    while True:
        await asyncio.sleep(seconds)
        flush_all()


def status_class(status: int) -> str:
    return "2xx" if status < 400 else "4xx" if status < 500 else "5xx"


def exposition() -> tuple[bytes, str]:
    flush_all()
    EVENT_LOOP_TASKS.set(len(asyncio.all_tasks()))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
