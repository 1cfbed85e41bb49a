"""Inputs every front end takes as text and the service checks once: USD amounts, times, status filters, names."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from weir.config import usd_to_microcents
from weir.service.errors import Invalid

MAX_NAME = 200  # characters of an account or key name
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_STATUS_CLASS = re.compile(r"^([1-5])xx$")


def usd(value: str | int | float, param: str) -> int:
    """A USD amount (at most 8 decimal places) in integer microcents."""
    try:
        amount = Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
    except (InvalidOperation, ValueError):
        raise Invalid(param, f"{value!r} is not a number") from None
    if not amount.is_finite():
        raise Invalid(param, f"{value!r} is not a number")
    try:
        return usd_to_microcents(amount, param)
    except ValueError as exc:
        raise Invalid(param, str(exc).removeprefix(f"{param}: ")) from None


def name(value: str, param: str) -> str:
    if not value:
        raise Invalid(param, "must not be empty")
    if len(value) > MAX_NAME:
        raise Invalid(param, f"must be at most {MAX_NAME} characters, got {len(value)}")
    if _CONTROL.search(value):
        raise Invalid(param, "must not contain control characters")
    return value


def time_ms(value: str, param: str) -> int:
    """Epoch milliseconds, or an ISO 8601 time (UTC unless it names its offset)."""
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(param, f"{value!r} is neither epoch milliseconds nor an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def status_range(value: str, param: str = "status") -> tuple[int, int]:
    """`200` (that status), `4xx` (a class), `ok` (below 400) or `error` (400 and above)."""
    text = value.strip().lower()
    if text == "ok":
        return 100, 399
    if text == "error":
        return 400, 599
    if match := _STATUS_CLASS.match(text):
        first = int(match.group(1)) * 100
        return first, first + 99
    if text.isdigit() and 100 <= int(text) <= 599:
        return int(text), int(text)
    raise Invalid(param, f"expected a status (200), a class (4xx), ok or error; got {value!r}")


_SPAN = re.compile(r"^(\d+)\s*([smhdw])$")
_SPAN_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}


def expiry(value: str, param: str, now_ms: int) -> int | None:
    """When a key expires: `never` (None), a span from now (`30d`, `12h`, `90m`, `2w`), epoch milliseconds, or an
    ISO 8601 time."""
    text = value.strip().lower()
    if text == "never":
        return None
    if match := _SPAN.match(text):
        return now_ms + int(match.group(1)) * _SPAN_MS[match.group(2)]
    try:
        return time_ms(value, param)
    except Invalid:
        expected = "never, a span (30d, 12h), epoch milliseconds or an ISO 8601 time"
        raise Invalid(param, f"{value!r} is not {expected}") from None


def items(value: str) -> list[str]:
    """A comma-separated list, without blanks."""
    return [item.strip() for item in value.split(",") if item.strip()]


MAX_MULTIPLIER = 1000


def multiplier(value: str | int | float, param: str) -> int:
    """A price multiplier (0.8, 1, 1.25) in parts per million: greater than 0, at most 1000, at most 3 decimal places
    (so that an account's and a tier's multiply to a whole number of parts per million)."""
    try:
        amount = Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
    except (InvalidOperation, ValueError):
        raise Invalid(param, f"{value!r} is not a number") from None
    if isinstance(value, bool) or not amount.is_finite() or not 0 < amount <= MAX_MULTIPLIER:
        raise Invalid(param, f"must be greater than 0 and at most {MAX_MULTIPLIER}, got {value!r}")
    thousandths = amount * 1000
    if thousandths != thousandths.to_integral_value():
        raise Invalid(param, f"at most 3 decimal places, got {value!r}")
    return int(thousandths) * 1000
