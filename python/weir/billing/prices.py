"""Prices, converted once from the config's USD amounts to integer microcents.

Tokens and characters are priced per 1M, images per image, audio per second; the meter rounds once per call."""

from __future__ import annotations

import msgspec

from weir.config import Price, usd_to_microcents

MICROCENTS_PER_USD = 100_000_000
TOKENS_PER_PRICE_UNIT = 1_000_000


class TokenPrice(msgspec.Struct, frozen=True):
    """Microcents per 1M tokens. `cached_input` and `cache_write` are already resolved to `input` when not
    configured. The media endpoints' units: microcents per image, per 1M characters, per second of audio."""

    input: int
    output: int
    cached_input: int
    cache_write: int
    image: int = 0
    character: int = 0
    second: int = 0

    @classmethod
    def from_config(cls, price: Price, where: str = "price") -> TokenPrice:
        input_ = usd_to_microcents(price.input, f"{where}.input")
        cached, written = price.cached_input, price.cache_write
        return cls(
            input=input_,
            output=usd_to_microcents(price.output, f"{where}.output"),
            cached_input=input_ if cached is None else usd_to_microcents(cached, f"{where}.cached_input"),
            cache_write=input_ if written is None else usd_to_microcents(written, f"{where}.cache_write"),
            image=usd_to_microcents(price.image, f"{where}.image"),
            character=usd_to_microcents(price.character, f"{where}.character"),
            second=usd_to_microcents(price.second, f"{where}.second"),
        )
