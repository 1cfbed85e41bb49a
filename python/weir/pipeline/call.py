"""One call from admission to settlement: what it costs, what it records, what it observes."""

from __future__ import annotations

import time

from weir.billing.meter import NO_UNITS, ZERO, Units, Usage, cost_microcents, microcents_to_usd
from weir.pipeline.authenticate import Principal
from weir.pipeline.route import ResolvedModel, Route
from weir.pipeline.settle import Settler
from weir.store.records import UsageRecord


class Call:
    __slots__ = (
        "attempts",
        "model",
        "principal",
        "request_id",
        "requested_model",
        "route",
        "started",
        "status",
        "stream",
        "ttfb",
        "units",
        "usage",
    )

    def __init__(
        self,
        request_id: str,
        principal: Principal,
        model: ResolvedModel,
        route: Route,
        stream: bool,
        requested_model: str | None = None,
    ) -> None:
        self.request_id = request_id
        self.requested_model = requested_model or model.id  # the name the client used (an alias, maybe)
        self.principal = principal
        self.model = model
        self.route = route  # the route being tried; once a call is served, the one that served it
        self.attempts = 0  # upstream attempts made; a call with none leaves no usage record
        self.stream = stream
        self.started = time.perf_counter()
        self.ttfb: float | None = None
        self.status = 0
        self.usage: Usage = ZERO
        self.units: Units = NO_UNITS  # images, characters, audio: the media endpoints' priced units

    def first_byte(self) -> None:
        if self.ttfb is None:
            self.ttfb = time.perf_counter() - self.started

    def cost(self) -> int:
        return cost_microcents(self.usage, self.model.price, self.units)

    async def settle(self, settler: Settler) -> int:
        """Record the call (exactly once, keyed by its request id), debit the wallet, observe metrics."""
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
        await settler.submit(
            UsageRecord(
                request_id=self.request_id,
                account_id=self.principal.account_id,
                key_id=self.principal.key_id,
                model=self.model.id,
                provider=self.route.upstream.name,
                upstream_model=self.route.upstream_model,
                status=self.status,
                input_tokens=usage.input,
                cached_tokens=usage.cached,
                output_tokens=usage.output,
                reasoning_tokens=usage.reasoning,
                cost_microcents=cost,
                duration_ms=round(elapsed * 1000),
                ttfb_ms=None if self.ttfb is None else round(self.ttfb * 1000),
                stream=self.stream,
                created_at=int(time.time() * 1000),
                cache_write_tokens=usage.cache_write,
                images=self.units.images,
                characters=self.units.characters,
                audio_ms=self.units.audio_ms,
            )
        )
        return cost
