"""Usage -> cost. Pure integer arithmetic, rounded up once per call."""

from __future__ import annotations

import msgspec

from weir.billing.prices import MICROCENTS_PER_USD, TOKENS_PER_PRICE_UNIT, TokenPrice
from weir.canonical.usage import ZERO, Usage

__all__ = ["NO_UNITS", "PPM", "ZERO", "Units", "Usage", "cost_microcents", "microcents_to_usd"]

_MS_PER_SECOND = 1000
PPM = 1_000_000  # a multiplier of 1x, in parts per million


class Units(msgspec.Struct, frozen=True):
    """What the media endpoints are priced by besides tokens: images generated, characters spoken, and
    milliseconds of audio transcribed (milliseconds keep a per-second price exact in integers)."""

    images: int = 0
    characters: int = 0
    audio_ms: int = 0


NO_UNITS = Units()


def cost_microcents(usage: Usage, price: TokenPrice, units: Units = NO_UNITS, multiplier_ppm: int = PPM) -> int:
    """`usage.input` includes cache reads (`cached`, at the cached-input price) and cache writes (`cache_write`, at
    the cache-write price: Anthropic charges a premium for them). Every term is scaled to microcents x 1M before
    the one rounding: characters are priced per 1M like tokens, images per image, audio per second. The price
    multiplier (parts per million) applies before that rounding, so a call is rounded up once, multiplier and all."""
    cached = min(usage.cached, usage.input)
    written = min(usage.cache_write, usage.input - cached)
    uncached = usage.input - cached - written
    scaled = uncached * price.input + cached * price.cached_input + written * price.cache_write
    scaled += usage.output * price.output
    if units is not NO_UNITS:
        scaled += units.characters * price.character
        scaled += units.images * price.image * TOKENS_PER_PRICE_UNIT
        scaled += units.audio_ms * price.second * (TOKENS_PER_PRICE_UNIT // _MS_PER_SECOND)
    if multiplier_ppm != PPM:
        return -(-scaled * multiplier_ppm // (TOKENS_PER_PRICE_UNIT * PPM))  # ceiling division, once
    return -(-scaled // TOKENS_PER_PRICE_UNIT)  # ceiling division, once


def microcents_to_usd(amount: int) -> float:
    """For display only (the `cost` field); money stays in integers everywhere else."""
    return amount / MICROCENTS_PER_USD
