"""One call from admission to settlement: what it costs, what it records, what it observes."""

from __future__ import annotations

import time

from weir.billing.meter import NO_UNITS, ZERO, Units, Usage, cost_microcents, microcents_to_usd
from weir.limits.base import Decision
from weir.limits.headers import Family
from weir.pipeline.authenticate import Principal
from weir.pipeline.route import ResolvedModel, Route
from weir.pipeline.settle import Settler
from weir.store.records import UsageRecord
from weir.upstreams.health import Key
from weir.upstreams.transport import UpstreamResponse

NO_HEADERS: list[tuple[bytes, bytes]] = []  # never appended to: shared by every call without limits
NO_BYOK: dict[str, Key] = {}  # never written to: shared by every call of an account without keys of its own


class Call:
    __slots__ = (
        "_priced",
        "answering",
        "attempts",
        "byok",
        "byok_fee_ppm",
        "byok_used",
        "charged",
        "client_ip",
        "decision",
        "estimate",
        "expired",
        "family",
        "give_back",
        "limit_headers",
        "max_price",
        "model",
        "price",
        "principal",
        "request_id",
        "requested_model",
        "reserved",
        "route",
        "started",
        "status",
        "stream",
        "ttfb",
        "units",
        "upstream_response",
        "usage",
        "usage_estimated",
        "waived",
    )

    def __init__(
        self,
        request_id: str,
        principal: Principal,
        model: ResolvedModel,
        route: Route,
        stream: bool,
        requested_model: str | None = None,
        client_ip: str | None = None,
        family: Family = "openai",
    ) -> None:
        self.request_id = request_id
        self.requested_model = requested_model or model.id  # the name the client used (an alias, maybe)
        self.principal = principal
        self.model = model
        self.price = model.price  # what it is billed at: its model's prices when it was admitted
        self.route = route  # the route being tried; once a call is served, the one that served it
        self.attempts = 0  # upstream attempts made; a call with none leaves no usage record
        self.stream = stream
        self.started = time.perf_counter()
        self.ttfb: float | None = None
        self.status = 0
        self.usage: Usage = ZERO
        self.units: Units = NO_UNITS  # images, characters, audio: the media endpoints' priced units
        self._priced: tuple[Usage, Units, int] | None = None
        # The upstream broke off or failed the call after it began: what was received is recorded, but the
        # client is not charged for it (not its fault).
        self.waived = False
        self.answering = False  # the client's response has started: from here on errors end it in its dialect
        self.expired = False  # the call ran past its time limit (pipeline/watch.py)
        self.upstream_response: UpstreamResponse | None = None  # the relayed answer, while it is read
        self.client_ip = client_ip  # for the key's max_ips
        self.family = family  # whose rate-limit headers the answer carries: the client's dialect's
        self.decision: Decision | None = None  # the rate limits' admission, released when the call ends
        self.limit_headers: list[tuple[bytes, bytes]] = NO_HEADERS  # the key's rate-limit headers, for every answer
        self.estimate = 1  # the most the call may cost (microcents; billing/estimate.py): what admission reserves
        self.max_price: int | None = None  # the client's cap on it (X-Weir-Max-Price-Microcents)
        self.reserved: int | None = None  # what admission set aside for it, until it ends
        self.charged = 0  # what its usage record charges, once settled
        self.give_back = 0  # what of its account's slice goes back when it ends (a nearly empty account's)
        self.usage_estimated = False  # its usage was counted by Weir, not reported (a client that left a stream)
        self.byok: dict[str, Key] = NO_BYOK  # the account's own keys, by provider (pipeline/byok.py)
        self.byok_used = False  # the attempt that served it sent the account's own key
        self.byok_fee_ppm = 0  # what such a call costs of its price, in parts per million (billing.byok_fee_percent)

    def time_limit(self) -> float:
        """The longest this call may run: its provider's max_stream_seconds or request_timeout_seconds."""
        config = self.route.upstream.config
        return config.max_stream_seconds if self.stream else config.request_timeout_seconds

    def first_byte(self) -> None:
        if self.ttfb is None:
            self.ttfb = time.perf_counter() - self.started

    def cost(self) -> int:
        """What the call costs for its usage and units as they are now (computed once per change)."""
        if self.waived:
            return 0
        priced = self._priced
        usage, units = self.usage, self.units
        if priced is not None and priced[0] is usage and priced[1] is units:
            return priced[2]
        cost = self.cost_of(usage, units)
        self._priced = (usage, units, cost)
        return cost

    def cost_of(self, usage: Usage, units: Units = NO_UNITS) -> int:
        """What `usage` and `units` would cost this call: its model's prices, its multipliers, rounded once."""
        multiplier = self.principal.multiplier_ppm
        if self.byok_used:  # exact: a multiple of 1000 ppm times a whole percentage
            multiplier = multiplier * self.byok_fee_ppm // 1_000_000
        return cost_microcents(usage, self.price, units, multiplier)

    async def settle(self, settler: Settler) -> int:
        """Record the call (exactly once, keyed by its request id), debit the wallet, observe metrics; what
        `give_back` holds goes back to the store with the record's commit."""
        cost = self.cost()
        elapsed = time.perf_counter() - self.started
        usage = self.usage
        metrics = self.route.metrics
        metrics.count(self.status)
        metrics.duration.observe(elapsed)
        if self.ttfb is not None:
            metrics.ttfb.observe(self.ttfb)
        if usage is not ZERO:
            tokens = metrics.tokens
            tokens[0] += usage.input
            tokens[1] += usage.cached
            tokens[2] += usage.output
            tokens[3] += usage.reasoning
        if cost:
            metrics.cost_usd += microcents_to_usd(cost)
        ttfb = self.ttfb
        units = self.units
        route = self.route
        principal = self.principal
        # Positional, in UsageRecord's field order: a 20-keyword constructor call costs twice as much per call.
        await settler.submit(
            UsageRecord(
                self.request_id,
                principal.account_id,
                principal.key_id,
                self.model.id,
                route.upstream.name,
                route.upstream_model,
                self.status,
                usage.input,
                usage.cached,
                usage.output,
                usage.reasoning,
                cost,
                round(elapsed * 1000),
                None if ttfb is None else round(ttfb * 1000),
                self.stream,
                time.time_ns() // 1_000_000,
                usage.cache_write,
                units.images,
                units.characters,
                units.audio_ms,
                principal.multiplier_ppm,
                self.usage_estimated,
                self.byok_used,
            ),
            self.give_back,
        )
        self.give_back = 0
        return cost
