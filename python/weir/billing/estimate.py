"""The most a call may cost, known before it is sent: what admission reserves and what a price cap is checked against.

Input: the request body's length in bytes. A BPE token is at least one byte of the text it encodes, and the JSON
body holds every byte of that text (more, escaped), so a text call's input tokens never exceed it; it costs nothing
to count. (An image given by URL is the exception: a few bytes that the upstream may count as hundreds of tokens.)
Output: the client's own limit (`max_tokens`, `max_completion_tokens`, `max_output_tokens`,
`generationConfig.maxOutputTokens`), else the model's `max_output_tokens` (default: its `max_tokens`).
Every input token is priced at the dearest of the input prices (fresh, cached, cache write), every output token at
the output price; rounded up once, as the meter rounds.
"""

from __future__ import annotations

from typing import Any

from weir.billing.meter import NO_UNITS, ZERO, Units, cost_microcents
from weir.billing.prices import TOKENS_PER_PRICE_UNIT, TokenPrice

# The fields in which each inbound dialect's clients limit a call's output, in the order they are read.
OUTPUT_FIELDS: dict[str, tuple[str, ...]] = {
    "openai_chat": ("max_completion_tokens", "max_tokens"),
    "openai_responses": ("max_output_tokens",),
    "anthropic_messages": ("max_tokens",),
}


def client_output_limit(dialect: str, payload: dict[str, Any]) -> int | None:
    """The output limit the client set in its request body, if it set one (a positive whole number)."""
    if dialect == "gemini":
        config = payload.get("generationConfig")
        value = config.get("maxOutputTokens") if isinstance(config, dict) else None
        return value if type(value) is int and value > 0 else None
    for name in OUTPUT_FIELDS.get(dialect, ()):
        value = payload.get(name)
        if type(value) is int and value > 0:
            return value
    return None


def max_cost(price: TokenPrice, input_tokens: int, output_tokens: int, multiplier_ppm: int = 1_000_000) -> int:
    """Microcents, rounded up: `input_tokens` at the dearest input price and `output_tokens` at the output price,
    times the call's price multiplier (parts per million)."""
    dearest = max(price.input, price.cached_input, price.cache_write)
    scaled = (input_tokens * dearest + output_tokens * price.output) * multiplier_ppm
    return -(-scaled // (TOKENS_PER_PRICE_UNIT * 1_000_000))


def call_estimate(
    price: TokenPrice, input_tokens: int, output_tokens: int, multiplier_ppm: int, units: Units = NO_UNITS
) -> int:
    """A call's estimate: `max_cost`, plus its priced `units` (media), at least 1 microcent (a balance above 0)."""
    estimate = max_cost(price, input_tokens, output_tokens, multiplier_ppm)
    if units is not NO_UNITS:
        estimate += cost_microcents(ZERO, price, units, multiplier_ppm)
    return estimate if estimate > 1 else 1
