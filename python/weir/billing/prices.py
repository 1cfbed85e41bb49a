"""Prices, converted once from the config's USD per 1M tokens to integer microcents per 1M tokens."""

from __future__ import annotations

import msgspec

from weir.config import Price, usd_to_microcents

MICROCENTS_PER_USD = 100_000_000
TOKENS_PER_PRICE_UNIT = 1_000_000


class TokenPrice(msgspec.Struct, frozen=True):
    """Microcents per 1M tokens. `cached_input` and `cache_write` are already resolved to `input` when not
    configured."""

    input: int
    output: int
    cached_input: int
    cache_write: int

    @classmethod
    def from_config(cls, price: Price, where: str = "price") -> TokenPrice:
        input_ = usd_to_microcents(price.input, f"{where}.input")
        cached, written = price.cached_input, price.cache_write
        return cls(
            input=input_,
            output=usd_to_microcents(price.output, f"{where}.output"),
            cached_input=input_ if cached is None else usd_to_microcents(cached, f"{where}.cached_input"),
            cache_write=input_ if written is None else usd_to_microcents(written, f"{where}.cache_write"),
        )
