"""Prices, converted once from the config's USD amounts to integer microcents.

Tokens and characters are priced per 1M, images per image, audio per second; the meter rounds once per call."""

from __future__ import annotations

from decimal import Decimal

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


def usd_prices(price: TokenPrice, multiplier_ppm: int = 1_000_000) -> dict[str, object]:
    """Prices in USD as a caller pays them (times its multipliers): per 1M tokens, and the media units that have a
    price (image: per image; character: per 1M characters; second: per second of audio). Exact decimals, as
    floats."""

    def usd(microcents: int) -> float:
        return float(Decimal(microcents) * multiplier_ppm / (MICROCENTS_PER_USD * 1_000_000))

    tokens = {"input": price.input, "output": price.output, "cached_input": price.cached_input}
    tokens["cache_write"] = price.cache_write
    pricing: dict[str, object] = {"currency": "USD", "per_1m_tokens": {k: usd(v) for k, v in tokens.items()}}
    units = {"image": price.image, "character": price.character, "second": price.second}
    if media := {k: usd(v) for k, v in units.items() if v}:
        pricing["per_unit"] = media
    return pricing


def stored_price(text: str) -> TokenPrice:
    """Prices kept in the store (the JSON of a config Price, written by the service layer, which checked them)."""
    return TokenPrice.from_config(msgspec.json.decode(text, type=Price), "price")
