"""Admission: what is checked about a call once its key is known and before any upstream is tried, in this order
after the key's own checks (authenticate: expiry, IP allow-list): the model's access (the key's tier or model
list) and whether it is disabled, when the model is resolved (`check_model`); then, once the call starts
(`admit`), the key's rate limits and the account's wallet. Only admitted calls count in the rate limits: a call
the wallet refuses is checked against them without being counted."""

from __future__ import annotations

import time
from collections.abc import Callable

from weir.billing.wallets import Wallets
from weir.errors import InsufficientBalance, ModelDisabled, ModelNotAllowed, RateLimited
from weir.limits.base import UNLIMITED, Limiter
from weir.limits.decision import refusal
from weir.limits.headers import render
from weir.pipeline.access import KeyAccess
from weir.pipeline.authenticate import Principal
from weir.pipeline.call import Call
from weir.pipeline.route import ResolvedModel

MAX_TRACKED_KEYS = 100_000
MODELS_HINT = "GET /v1/models lists the models this key may use."


def check_model(access: KeyAccess, model: ResolvedModel, name: str) -> None:
    """403 when the key may not call the model (its tier's models, or its own list), or the model is disabled."""
    if access.restricts_models and not access.allows_model(model.id, model.aliases):
        tier = access.models
        if tier is not None and not tier.allows(model.id, model.aliases):
            why = f"is not included in this key's tier {access.tier.name!r}"
        else:
            why = "is not in this key's own model list"
        raise ModelNotAllowed(f"The model {name!r} {why}. {MODELS_HINT}", param="model")
    if model.disabled is not None:
        reason = f" ({model.disabled})" if model.disabled else ""
        raise ModelDisabled(
            f"The model {name!r} is disabled by the operator{reason}; calls to it are refused until it is enabled "
            f"again. {MODELS_HINT}",
            param="model",
        )


def broke(principal: Principal, wallets: Wallets) -> bool:
    balance = wallets.balance(principal.account_id)
    return balance is not None and balance <= 0


def no_balance(principal: Principal) -> InsufficientBalance:
    return InsufficientBalance(
        f"The account {principal.account_name!r} has insufficient balance; top it up to continue."
    )


class Admission:
    def __init__(self, limiter: Limiter | None, wallets: Wallets) -> None:
        self.limiter = limiter  # None: no limits anywhere (a gateway without tiers, tests)
        self.wallets = wallets

    async def admit(self, call: Call, limited: bool = True) -> None:
        """The key's rate limits (unless `limited` is False: token counting), then the wallet. Raises the
        refusal; sets the call's limit headers, and its decision when the call counted (to be released)."""
        principal = call.principal
        empty = broke(principal, self.wallets)
        limits = principal.access.limits
        limiter = self.limiter
        if limited and limits is not UNLIMITED and limiter is not None:
            decision = await limiter.admit(principal.key_id, limits, call.client_ip, count=not empty)
            if not decision.admitted:
                raise refusal(decision, call.family)
            call.limit_headers = render(decision, call.family)
            if not empty:
                call.decision = decision
        if empty:
            err = no_balance(principal)
            err.add_headers(call.limit_headers)
            raise err

    async def release(self, call: Call) -> None:
        """The admitted call is over: free its concurrency slot, count its tokens. Once per call; never raises."""
        decision = call.decision
        if decision is not None and self.limiter is not None:
            call.decision = None
            usage = call.usage
            await self.limiter.release(decision, usage.input + usage.output)


class CountBound:
    """At most `per_minute` token counts per key per minute (fixed one-minute windows, per worker); 0: no bound.
    Counting is free, so it gets a bound of its own instead of the key's request limits."""

    __slots__ = ("_clock", "_per_minute", "_windows")

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._windows: dict[str, tuple[int, int]] = {}  # key id -> (minute, counts in it)

    def admit(self, key_id: str) -> None:
        if not self._per_minute:
            return
        now = self._clock()
        minute = int(now // 60)
        seen, count = self._windows.get(key_id, (minute, 0))
        if seen != minute:
            count = 0
        if count >= self._per_minute:
            wait = max(1, int((minute + 1) * 60 - now + 0.999))
            raise RateLimited(
                f"This key counted tokens {self._per_minute} times this minute, the most allowed "
                f"(server.count_tokens_per_minute); try again in {wait} s.",
                retry_after=wait,
            )
        if len(self._windows) > MAX_TRACKED_KEYS:
            self._windows.clear()
        self._windows[key_id] = (minute, count + 1)
