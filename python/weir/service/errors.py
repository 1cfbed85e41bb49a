"""What the service layer refuses, typed so that each front end renders it its own way: the CLI as a line on
stderr, the HTTP API as an OpenAI-shaped error with a status, the console as a message on the page.

A store that cannot be reached is not one of these: it stays a StoreError (the API answers 503)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")
PAGE_DEFAULT = 50  # items per page when the caller does not say
PAGE_MAX = 200  # and at most


class ServiceError(Exception):
    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param  # the input at fault, when one is
        self.code = code  # a stable machine-readable reason (account_not_found, ...), when there is one


class NotFound(ServiceError):
    """No such account, key, provider or record (or not one the caller may see)."""


class Conflict(ServiceError):
    """The request contradicts what exists: a name taken, an idempotency key used for another top-up."""


class Invalid(ServiceError):
    """A value is not acceptable. `param` names it and `reason` says why; the message is `param: reason`, and a
    front end with its own names for inputs (the CLI's flags) renders `reason` after its own name."""

    def __init__(self, param: str, reason: str, *, code: str | None = None) -> None:
        super().__init__(f"{param}: {reason}", param=param, code=code)
        self.reason = reason


async def paged(call: Awaitable[T]) -> T:
    """A store list call, with its refusal of a bad cursor, limit or offset (a ValueError `param: reason`) made
    an Invalid."""
    try:
        return await call
    except ValueError as exc:
        param, _, reason = str(exc).partition(": ")
        raise Invalid(param, reason) from None


def check_limit(limit: int, maximum: int = PAGE_MAX) -> int:
    if not 1 <= limit <= maximum:
        raise Invalid("limit", f"a page holds 1 to {maximum} items, got {limit}")
    return limit
