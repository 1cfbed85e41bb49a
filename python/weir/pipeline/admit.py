"""Admission: what is checked about a call once its key is known and before any upstream is tried, in this order
after the key's own checks (authenticate: expiry, IP allow-list): the model's access (the key's tier or model
list) and whether it is disabled, when the model is resolved (`check_model`); then, once the call starts
(`admit`), the key's rate limits and the account's money (the call's price cap, and the reservation of the most it
may cost: billing/reservations.py). Only admitted calls count in the rate limits and hold money: a call its money
refuses is checked against the rate limits without being counted, and a call they refuse gives back its
reservation."""

from __future__ import annotations

import time
from collections.abc import Callable

from weir.billing.prices import MICROCENTS_PER_USD
from weir.billing.reservations import Reservations
from weir.billing.spend import KeySpend
from weir.billing.wallets import Wallets
from weir.errors import (
    GatewayError,
    InsufficientBalance,
    KeySpendLimitReached,
    MaxPriceExceeded,
    ModelDisabled,
    ModelNotAllowed,
    RateLimited,
    ServiceUnavailable,
)
from weir.limits.base import UNLIMITED, Limiter
from weir.limits.decision import refusal
from weir.limits.headers import render, rfc3339
from weir.pipeline.access import KeyAccess
from weir.pipeline.authenticate import Principal
from weir.pipeline.call import Call
from weir.pipeline.route import ResolvedModel
from weir.store.base import StoreError
from weir.store.records import HoldGrant

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


def usd(microcents: int) -> str:
    """$0.000123 (six decimals: a cheap call's estimate is a fraction of a cent)."""
    return f"${microcents / MICROCENTS_PER_USD:,.6f}"


def over_cap(call: Call) -> MaxPriceExceeded | None:
    """402 when the call may cost more than its cap: the client's header, else its key's default."""
    cap = call.max_price if call.max_price is not None else call.principal.max_price
    if cap is None or call.estimate <= cap:
        return None
    source = "X-Weir-Max-Price-Microcents" if call.max_price is not None else "this key's max price"
    return MaxPriceExceeded(
        f"This call may cost up to {call.estimate} microcents ({usd(call.estimate)}), more than its cap of {cap} "
        f"microcents ({usd(cap)}, {source}). Lower max_tokens or shorten the input, or raise the cap."
    )


def short_of(call: Call, grant: HoldGrant) -> InsufficientBalance:
    principal = call.principal
    return InsufficientBalance(
        f"The account {principal.account_name!r} has insufficient balance for this call: its balance is "
        f"{usd(grant.balance)}, of which {usd(grant.held)} is held for calls in flight, and this call may cost up "
        f"to {usd(call.estimate)}. Top the account up, or lower max_tokens."
    )


def spent_out(principal: Principal, spent: int, ends: int | None) -> KeySpendLimitReached:
    limit = principal.spend_limit
    assert limit is not None
    period = "in total" if ends is None else f"this {principal.spend_period}"
    reset = "" if ends is None else f" It resets at {rfc3339(ends // 1000).decode()}."
    return KeySpendLimitReached(
        f"This API key has spent {usd(spent)} {period}, its spend limit of {usd(limit)}.{reset} Ask its owner to "
        "raise the limit (weir keys update KEY_ID --spend-limit-usd)."
    )


class Admission:
    def __init__(
        self,
        limiter: Limiter | None,
        wallets: Wallets,
        reservations: Reservations | None = None,
        spend: KeySpend | None = None,
    ) -> None:
        self.limiter = limiter  # None: no limits anywhere (a gateway without tiers, tests)
        self.wallets = wallets
        self.reservations = reservations  # None: only an account whose balance is spent is refused (tests)
        self.spend = spend  # None: keys' spend limits are not enforced (tests)

    async def admit(self, call: Call, limited: bool = True) -> None:
        """The money first (the price cap, then the reservation of the call's estimate), then the key's rate limits
        (unless `limited` is False: a free call, token counting, which needs only a balance above 0). A call that
        any check refuses counts in no rate limit and holds nothing; a call refused for its rate limits and its
        money gets the 429. Raises the refusal, with the limit headers; sets the call's limit headers, its
        decision and its reservation, to be released when it ends."""
        principal = call.principal
        money: GatewayError | None = None
        if not limited or self.reservations is None:
            if broke(principal, self.wallets):
                money = no_balance(principal)
        elif (money := over_cap(call)) is None and (money := await self.over_spend(principal)) is None:
            reservations = self.reservations
            if reservations.try_reserve(principal.account_id, call.estimate):
                call.reserved = call.estimate
            else:
                try:
                    grant = await reservations.reserve(principal.account_id, call.estimate)
                except StoreError as exc:
                    raise ServiceUnavailable("The wallet store is unavailable; try again shortly.") from exc
                if grant is None:
                    call.reserved = call.estimate
                else:
                    money = short_of(call, grant)
        limits = principal.access.limits
        limiter = self.limiter
        if limited and limits is not UNLIMITED and limiter is not None:
            try:
                decision = await limiter.admit(principal.key_id, limits, call.client_ip, count=money is None)
            except BaseException:
                self.unreserve(call)
                raise
            if not decision.admitted:
                self.unreserve(call)
                raise refusal(decision, call.family)
            call.limit_headers = render(decision, call.family)
            if money is None:
                call.decision = decision
        if money is not None:
            money.add_headers(call.limit_headers)
            raise money

    async def over_spend(self, principal: Principal) -> KeySpendLimitReached | None:
        """402 when the key has spent its spend limit for its period."""
        if principal.spend_limit is None or self.spend is None:
            return None
        try:
            spent, ends = await self.spend.spent(principal.account_id, principal.key_id, principal.spend_period)
        except StoreError as exc:
            raise ServiceUnavailable("The usage store is unavailable; try again shortly.") from exc
        return spent_out(principal, spent, ends) if spent >= principal.spend_limit else None

    def unreserve(self, call: Call) -> None:
        if call.reserved is not None and self.reservations is not None:
            call.give_back = self.reservations.end(call.principal.account_id, call.reserved, 0)
            call.reserved = None

    def end(self, call: Call) -> None:
        """The call is over: its reservation ends (what its record charges leaves the account's slice; a nearly
        empty account's leftover is set to go back, as `call.give_back`)."""
        reserved = call.reserved
        if reserved is not None and self.reservations is not None:
            call.reserved = None
            call.give_back = self.reservations.end(call.principal.account_id, reserved, call.charged)
        if call.charged and call.principal.spend_limit is not None and self.spend is not None:
            self.spend.add(call.principal.key_id, call.charged)

    async def release(self, call: Call) -> None:
        """After `end` and the call's settlement: give back what its usage commit does not (a call with no
        record), free its concurrency slot and count its tokens. Once per call; never raises."""
        if call.give_back and self.reservations is not None:
            give, call.give_back = call.give_back, 0
            await self.reservations.give_back(call.principal.account_id, give)
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
