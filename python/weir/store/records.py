"""Rows the store reads and writes. Money is integer microcents; times are Unix epoch milliseconds."""

from __future__ import annotations

from typing import Literal

import msgspec

KeyKind = Literal["inference", "management"]
LedgerKind = Literal["initial", "topup", "usage", "adjustment"]


class Account(msgspec.Struct, frozen=True):
    id: int
    name: str
    balance_microcents: int
    created_at: int


class ApiKey(msgspec.Struct, frozen=True):
    id: str  # the public lookup id embedded in the key
    account_id: int
    kind: KeyKind
    name: str | None
    secret_hmac: bytes  # HMAC-SHA256(pepper, secret); the plaintext is never stored
    created_at: int
    revoked_at: int | None = None
    last_used_at: int | None = None


class KeyLookup(msgspec.Struct, frozen=True):
    """What authentication needs in one read: the key and its account's balance."""

    key: ApiKey
    account_name: str
    balance_microcents: int


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
