"""Usage -> cost. Pure integer arithmetic, rounded up once per call."""

from __future__ import annotations

from weir.billing.prices import MICROCENTS_PER_USD, TOKENS_PER_PRICE_UNIT, TokenPrice
from weir.canonical.usage import ZERO, Usage

__all__ = ["ZERO", "Usage", "cost_microcents", "microcents_to_usd"]


def cost_microcents(usage: Usage, price: TokenPrice) -> int:
    """`usage.input` includes cache reads (`cached`, at the cached-input price) and cache writes (`cache_write`, at
    the cache-write price: Anthropic charges a premium for them)."""
    cached = min(usage.cached, usage.input)
    written = min(usage.cache_write, usage.input - cached)
    uncached = usage.input - cached - written
    scaled = uncached * price.input + cached * price.cached_input + written * price.cache_write
    scaled += usage.output * price.output
    return -(-scaled // TOKENS_PER_PRICE_UNIT)  # ceiling division, once


def microcents_to_usd(amount: int) -> float:
    """For display only (the `cost` field); money stays in integers everywhere else."""
    return amount / MICROCENTS_PER_USD
