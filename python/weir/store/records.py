"""Rows the store reads and writes. Money is integer microcents; times are Unix epoch milliseconds."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

KeyKind = Literal["inference", "management"]
LedgerKind = Literal["initial", "topup", "usage", "adjustment"]
UsageGroupBy = Literal["day", "model", "key", "account"]
T = TypeVar("T")


class Account(msgspec.Struct, frozen=True):
    id: int
    name: str
    balance_microcents: int
    created_at: int
    disabled: bool = False  # every key of a disabled account is refused (403 account_disabled)
    rate_multiplier_ppm: int = 1_000_000  # the account's price multiplier in parts per million (1x)
    allowed_tiers: list[str] | None = None  # the tiers its owner may give its keys; None: none (the operator's)


class AccountUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """The account fields an update may change; UNSET leaves one as it is. Each is the column of that name."""

    disabled: bool | UnsetType = UNSET
    rate_multiplier_ppm: int | UnsetType = UNSET
    allowed_tiers: list[str] | None | UnsetType = UNSET


class ApiKey(msgspec.Struct, frozen=True):
    id: str  # the public lookup id embedded in the key
    account_id: int
    kind: KeyKind
    name: str | None
    secret_hmac: bytes  # HMAC-SHA256(pepper, secret); the plaintext is never stored
    created_at: int
    revoked_at: int | None = None
    last_used_at: int | None = None
    tier: str | None = None  # None: auth.default_tier
    limits: dict[str, int] | None = None  # the key's own limits over its tier's (weir.limits.LIMIT_NAMES)
    models: list[str] | None = None  # ids, aliases or glob patterns; None: its tier's
    ip_allow: list[str] | None = None  # CIDRs the key may be used from; None: anywhere
    expires_at: int | None = None  # past it: 401 key_expired
    max_price_microcents: int | None = None  # the default cap on what one call may cost
    spend_limit_microcents: int | None = None  # what the key may spend per spend_period
    spend_period: SpendPeriod | None = None


SpendPeriod = Literal["day", "week", "month", "total"]


class KeyUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """The key fields an update may change; UNSET leaves one as it is. Each is the column of that name."""

    name: str | None | UnsetType = UNSET
    tier: str | None | UnsetType = UNSET
    limits: dict[str, int] | None | UnsetType = UNSET
    models: list[str] | None | UnsetType = UNSET
    ip_allow: list[str] | None | UnsetType = UNSET
    expires_at: int | None | UnsetType = UNSET
    max_price_microcents: int | None | UnsetType = UNSET
    spend_limit_microcents: int | None | UnsetType = UNSET
    spend_period: SpendPeriod | None | UnsetType = UNSET


class KeyLookup(msgspec.Struct, frozen=True):
    """What authentication needs in one read: the key and its account's balance and state."""

    key: ApiKey
    account_name: str
    balance_microcents: int
    account_disabled: bool = False
    rate_multiplier_ppm: int = 1_000_000


class UsageRecord(msgspec.Struct, frozen=True):
    request_id: str
    account_id: int
    key_id: str
    model: str  # the configured model id the client asked for (after alias resolution)
    provider: str
    upstream_model: str
    status: int  # HTTP status returned to the client
    input_tokens: int  # all prompt tokens, cached ones included
    cached_tokens: int
    output_tokens: int  # all completion tokens, reasoning ones included
    reasoning_tokens: int
    cost_microcents: int
    duration_ms: int
    ttfb_ms: int | None
    stream: bool
    created_at: int
    cache_write_tokens: int = 0  # prompt tokens written to a provider's cache (counted in input_tokens too)
    # The media endpoints' priced units (0 for model calls): images generated, input characters spoken, and
    # milliseconds of audio transcribed.
    images: int = 0
    characters: int = 0
    audio_ms: int = 0
    multiplier_ppm: int = 1_000_000  # the price multiplier it was charged at (parts per million; 1x)
    usage_estimated: bool = False  # Weir counted the usage (a client that left a stream before its usage came)
    byok: bool = False  # made with the account's own key for the provider (charged billing.byok_fee_percent)


class ByokEntry(msgspec.Struct, frozen=True):
    """One of an account's own provider keys, as listed: never the key itself."""

    provider: str
    created_at: int
    updated_at: int


class HoldGrant(msgspec.Struct, frozen=True):
    """The outcome of one `take_hold`: what was added to the holder's hold (0: the account cannot cover `need`),
    and the account as the store saw it then."""

    granted: int
    mine: int  # the holder's hold after the grant
    balance: int  # the account's balance
    held: int  # every live hold of the account, the holder's included, after the grant


class Settlement(msgspec.Struct, frozen=True):
    """The outcome of one usage record in a batch."""

    request_id: str
    account_id: int
    inserted: bool  # False when the request id was already recorded: nothing was charged again
    balance_microcents: int  # the account's balance after the batch


class LedgerEntry(msgspec.Struct, frozen=True):
    id: int
    account_id: int
    kind: LedgerKind
    amount_microcents: int  # signed: credits positive, debits negative
    balance_after_microcents: int
    request_id: str | None
    note: str | None
    created_at: int
    idempotency_key: str | None = None  # top-ups: the caller's key; one entry per (account, key)


class TopUp(msgspec.Struct, frozen=True):
    """What a top-up did: its ledger entry, the account after it, and whether it was a retry of an earlier one
    with the same idempotency key (then nothing was applied again and `entry` is the original)."""

    entry: LedgerEntry
    account: Account
    replayed: bool


class StoredResponse(msgspec.Struct, frozen=True):
    """An OpenAI Responses response kept so that a later request can continue it (`previous_response_id`)."""

    id: str  # the response id the client was given
    account_id: int
    model: str  # the model the client asked for
    items: str  # JSON array of Responses input items: the whole conversation up to and including this response
    created_at: int
    expires_at: int  # past this instant the response cannot be continued and is purged


class ProviderState(msgspec.Struct, frozen=True):
    """The operator's state of a provider (`weir providers pause|resume`), shared by every worker and replica."""

    name: str
    paused: bool
    reason: str | None
    keys_reset_at: int  # the last "bring every key back" command; a worker restores its retired keys after it
    updated_at: int


class ProviderHealth(msgspec.Struct, frozen=True):
    """One worker's view of a provider's routes and keys, published every few seconds."""

    provider: str
    worker: str
    health: str  # JSON: {"routes": [{"model", "breaker"}], "keys": ["ok" | "cooling" | "retired", ...]}
    updated_at: int


class UsageQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Which usage records a list or a summary covers: every set field narrows it."""

    account_id: int | None = None
    key_id: str | None = None
    model: str | None = None
    status_min: int | None = None  # status between these two, both included
    status_max: int | None = None
    since: int | None = None  # created_at >= since
    until: int | None = None  # created_at < until


class UsageGroup(msgspec.Struct, frozen=True):
    """One row of a usage summary: the calls of one day (UTC midnight, epoch ms), model, key or account."""

    group: int | str
    calls: int
    input_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost_microcents: int


class Page(msgspec.Struct, Generic[T], frozen=True):
    """One page of a list, newest first. `next_cursor` (opaque) fetches the page after it; None on the last."""

    items: list[T]
    next_cursor: str | None


class TierState(msgspec.Struct, frozen=True):
    """An operator's settings for a configured tier (`weir tiers set`), in place of the configuration's, shared by
    every worker."""

    name: str
    settings: str  # the JSON of a config Tier, every field present
    updated_at: int


class ModelState(msgspec.Struct, frozen=True):
    """An operator's switch on a configured model (`weir models disable|enable`) and its prices (`weir models price`),
    shared by every worker."""

    id: str
    disabled: bool
    reason: str | None
    updated_at: int
    price: str | None = None  # the JSON of a config Price, every field present; None: the configuration's
