from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from hypothesis import given
from hypothesis import strategies as st

from weir.billing.meter import Units, Usage, cost_microcents
from weir.billing.prices import TokenPrice
from weir.config import Price


def test_prices_convert_exactly() -> None:
    price = TokenPrice.from_config(Price(input=0.15, output=0.6, cached_input=0.075))
    assert price == TokenPrice(input=15_000_000, output=60_000_000, cached_input=7_500_000, cache_write=15_000_000)


def test_cached_falls_back_to_input() -> None:
    assert TokenPrice.from_config(Price(input=3, output=15)).cached_input == 300_000_000


def test_one_token_at_a_tiny_price_costs_one_microcent() -> None:
    price = TokenPrice.from_config(Price(input=0.01, output=0.01))
    assert cost_microcents(Usage(input=1), price) == 1  # 0.001 microcents, rounded up once


def test_zero_usage_costs_nothing() -> None:
    assert cost_microcents(Usage(), TokenPrice(1, 2, 3, 4)) == 0


def test_cache_reads_and_writes_have_their_own_prices() -> None:
    # Anthropic-style: 3 USD input, 0.30 cache reads, 3.75 cache writes, 15 output (per 1M tokens).
    price = TokenPrice.from_config(Price(input=3, output=15, cached_input=0.3, cache_write=3.75))
    usage = Usage(input=10_000, cached=6_000, cache_write=3_000, output=500)
    # 1,000 plain x 3 + 6,000 x 0.30 + 3,000 x 3.75 + 500 x 15 = 3,000 + 1,800 + 11,250 + 7,500 = 23,550 USD-units
    assert cost_microcents(usage, price) == 23_550 * 100  # USD per 1M tokens x tokens / 1M, in microcents


def test_cache_counts_never_make_the_uncached_part_negative() -> None:
    price = TokenPrice.from_config(Price(input=1, output=1))
    assert cost_microcents(Usage(input=10, cached=8, cache_write=8), price) == 10 * 100


prices = st.decimals(min_value=0, max_value=100, places=6)
counts = st.integers(min_value=0, max_value=2_000_000)


@given(prices, prices, prices, counts, counts, counts)
def test_cost_matches_decimal_arithmetic(
    p_in: Decimal, p_cached: Decimal, p_out: Decimal, n_in: int, n_cached: int, n_out: int
) -> None:
    n_cached = min(n_cached, n_in)
    price = TokenPrice.from_config(Price(input=float(p_in), output=float(p_out), cached_input=float(p_cached)))
    usd = ((n_in - n_cached) * p_in + n_cached * p_cached + n_out * p_out) / 1_000_000
    want = int((usd * 100_000_000).to_integral_value(rounding=ROUND_CEILING))
    assert cost_microcents(Usage(input=n_in, cached=n_cached, output=n_out), price) == want


def test_media_unit_prices_convert_exactly() -> None:
    price = TokenPrice.from_config(Price(image=0.04, character=15.0, second=0.0001))
    assert (price.image, price.character, price.second) == (4_000_000, 1_500_000_000, 10_000)
    assert TokenPrice.from_config(Price()).image == 0


def test_media_units_are_priced_per_image_per_million_characters_and_per_second() -> None:
    price = TokenPrice.from_config(Price(image=0.04, character=15.0, second=0.0001))
    assert cost_microcents(Usage(), price, Units(images=3)) == 12_000_000  # 3 x 4 cents
    assert cost_microcents(Usage(), price, Units(characters=1_000)) == 1_500_000  # 1,000 x 15 USD / 1M
    assert cost_microcents(Usage(), price, Units(audio_ms=2_500)) == 25_000  # 2.5 s x 0.0001 USD
    assert cost_microcents(Usage(), price, Units(audio_ms=1)) == 10  # 1 ms, exact in integers


def test_units_and_tokens_are_rounded_once_together() -> None:
    price = TokenPrice.from_config(Price(input=0.001, character=0.001))
    # 1 token and 1 character each cost 0.1 microcents: rounded separately they would cost 2.
    assert cost_microcents(Usage(input=1), price, Units(characters=1)) == 1


@given(prices, prices, prices, counts, counts, st.integers(0, 10_000), st.integers(0, 36_000_000))
def test_media_cost_matches_decimal_arithmetic(
    p_in: Decimal, p_char: Decimal, p_sec: Decimal, n_in: int, n_char: int, n_images: int, n_ms: int
) -> None:
    p_image = p_sec / 7
    p_image = p_image.quantize(Decimal("0.00000001"))
    price = TokenPrice.from_config(
        Price(input=float(p_in), character=float(p_char), second=float(p_sec), image=float(p_image))
    )
    usd = (n_in * p_in + n_char * p_char) / 1_000_000 + n_images * p_image + Decimal(n_ms) / 1000 * p_sec
    want = int((usd * 100_000_000).to_integral_value(rounding=ROUND_CEILING))
    units = Units(images=n_images, characters=n_char, audio_ms=n_ms)
    assert cost_microcents(Usage(input=n_in), price, units) == want


multipliers = st.integers(min_value=1, max_value=1_000_000).map(lambda thousandths: thousandths * 1000)


@given(prices, prices, counts, counts, multipliers)
def test_a_multiplied_cost_is_rounded_up_once(
    p_in: Decimal, p_out: Decimal, n_in: int, n_out: int, multiplier_ppm: int
) -> None:
    price = TokenPrice.from_config(Price(input=float(p_in), output=float(p_out)))
    usd = (n_in * p_in + n_out * p_out) / 1_000_000 * Decimal(multiplier_ppm) / 1_000_000
    want = int((usd * 100_000_000).to_integral_value(rounding=ROUND_CEILING))
    assert cost_microcents(Usage(input=n_in, output=n_out), price, multiplier_ppm=multiplier_ppm) == want


def test_a_multiplier_of_one_changes_nothing_and_a_fraction_rounds_up_once() -> None:
    price = TokenPrice.from_config(Price(input=1, output=1))  # 100 microcents a token
    usage = Usage(input=3, output=4)
    assert cost_microcents(usage, price, multiplier_ppm=1_000_000) == cost_microcents(usage, price) == 700
    assert cost_microcents(usage, price, multiplier_ppm=1_250_000) == 875
    assert (
        cost_microcents(Usage(input=1), TokenPrice.from_config(Price(input=0.01, output=0)), multiplier_ppm=1_500) == 1
    )
