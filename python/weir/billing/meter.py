"""Usage -> cost. Pure integer arithmetic, rounded up once per call."""

from __future__ import annotations

import msgspec

from weir.billing.prices import MICROCENTS_PER_USD, TOKENS_PER_PRICE_UNIT, TokenPrice


class Usage(msgspec.Struct, frozen=True):
    """Canonical token counts: `input` includes `cached`; `output` includes `reasoning`."""

    input: int = 0
    cached: int = 0
    output: int = 0
    reasoning: int = 0

    @classmethod
    def from_tuple(cls, counts: tuple[int, int, int, int] | None) -> Usage:
        return ZERO if counts is None else cls(*counts)


ZERO = Usage()


def cost_microcents(usage: Usage, price: TokenPrice) -> int:
    cached = min(usage.cached, usage.input)
    scaled = (usage.input - cached) * price.input + cached * price.cached_input + usage.output * price.output
    return -(-scaled // TOKENS_PER_PRICE_UNIT)  # ceiling division, once


def microcents_to_usd(amount: int) -> float:
    """For display only (the `cost` field); money stays in integers everywhere else."""
    return amount / MICROCENTS_PER_USD
