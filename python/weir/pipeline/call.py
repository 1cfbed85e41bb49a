"""One upstream call from admission to settlement: what it costs, what it records, what it observes."""

from __future__ import annotations

import time

from weir.billing.meter import NO_UNITS, ZERO, Units, Usage, cost_microcents, microcents_to_usd
from weir.billing.wallets import Wallets
from weir.errors import InsufficientBalance
from weir.pipeline.authenticate import Principal
from weir.pipeline.route import ResolvedModel, RouteTarget
from weir.pipeline.settle import Settler
from weir.store.records import UsageRecord


def admit(principal: Principal, wallets: Wallets) -> None:
    """Refuse before any upstream call when the account has nothing left to spend."""
    balance = wallets.balance(principal.account_id)
    if balance is not None and balance <= 0:
        raise InsufficientBalance(
            f"The account {principal.account_name!r} has insufficient balance; top it up to continue."
        )


class Call:
    __slots__ = (
        "model",
        "principal",
        "request_id",
        "requested_model",
        "started",
        "status",
        "stream",
        "target",
        "ttfb",
        "units",
        "usage",
    )

    def __init__(
        self,
        request_id: str,
        principal: Principal,
        model: ResolvedModel,
        target: RouteTarget,
        stream: bool,
        requested_model: str | None = None,
    ) -> None:
        self.request_id = request_id
        self.requested_model = requested_model or model.id  # the name the client used (an alias, maybe)
        self.principal = principal
        self.model = model
        self.target = target
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
        metrics = self.target.metrics
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
                provider=self.target.upstream.name,
                upstream_model=self.target.upstream_model,
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
