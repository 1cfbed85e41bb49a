"""API key -> principal. Keys are checked offline (shape, checksum), then against an in-process cache
refreshed from the store every `key_cache_ttl_seconds`; revocation, disabling an account and changing a key's
settings take effect within that TTL. Then, on every call, what belongs to the key itself: its expiry (401
key_expired) and its IP allow-list (403 ip_not_allowed)."""

from __future__ import annotations

import time
from urllib.parse import unquote_to_bytes

import msgspec

from weir import keys
from weir.billing.wallets import Wallets
from weir.errors import IpNotAllowed, KeyExpired, PermissionDenied, ServiceUnavailable, Unauthorized
from weir.limits.headers import rfc3339
from weir.pipeline.access import OPEN, PPM, KeyAccess, Tiers
from weir.store.base import Store, StoreError
from weir.store.records import KeyKind, KeyLookup, SpendPeriod

NEGATIVE_TTL = 2.0
STANDARD_KEY_HEADERS = (b"authorization", b"x-api-key", b"x-goog-api-key")


class Principal(msgspec.Struct, frozen=True):
    key_id: str
    kind: KeyKind
    account_id: int
    account_name: str
    access: KeyAccess = OPEN  # its tier, limits, models, addresses and expiry
    max_price: int | None = None  # the key's default cap on what one call may cost (microcents)
    # its prices' multiplier, parts per million: the account's rate_multiplier times its tier's price_multiplier
    multiplier_ppm: int = PPM
    spend_limit: int | None = None  # what the key may spend per spend_period (microcents)
    spend_period: SpendPeriod = "total"


def check_key(principal: Principal, ip: str | None) -> Principal:
    """What is checked of the key itself on every call, however it was found: expiry, then the IP allow-list."""
    access = principal.access
    expires = access.expires_at
    if expires is not None and expires <= time.time() * 1000:
        when = rfc3339(expires // 1000).decode()
        raise KeyExpired(f"This API key expired at {when}; ask its owner for a new key or a later expiry.")
    if access.networks is not None and not access.allows_ip(ip):
        raise IpNotAllowed(
            f"This API key may not be used from {ip or 'an unknown address'}: it is outside the key's IP "
            "allow-list. Call from an allowed address, or ask the key's owner to add this one."
        )
    return principal


def extract_key(found: dict[bytes, bytes], query: bytes, extra: frozenset[bytes]) -> str | None:
    """The presented key, from the request's headers (`found`: the first value of each, by lowercase name):
    Authorization: Bearer, x-api-key, x-goog-api-key, the configured headers, then ?key=."""
    auth = found.get(b"authorization")
    if auth is not None:
        scheme, _, token = auth.partition(b" ")
        if scheme.lower() == b"bearer" and token.strip():
            return token.strip().decode("latin-1")
    for name in (b"x-api-key", b"x-goog-api-key", *sorted(extra)):
        candidate = found.get(name)
        if candidate and candidate.strip():
            return candidate.strip().decode("latin-1")
    if query:
        for part in query.split(b"&"):
            if part.startswith(b"key="):
                return unquote_to_bytes(part[4:]).decode("latin-1") or None
    return None


class Authenticator:
    def __init__(self, store: Store, pepper: bytes, wallets: Wallets, ttl: float, tiers: Tiers | None = None) -> None:
        self._store = store
        self._tiers = tiers
        self._pepper = pepper
        self._wallets = wallets
        self._ttl = ttl
        self._cache: dict[str, tuple[float, KeyLookup | None]] = {}
        # Keys that passed every check, by the presented string, until their cache entry expires: the hot path
        # then costs one dict lookup instead of a checksum, an HMAC and a cache lookup.
        self._verified: dict[str, tuple[float, Principal]] = {}
        if tiers is not None:  # a principal holds its tier's rules: new ones apply from the key's next call
            tiers.on_change(self._verified.clear)

    async def authenticate(self, presented: str | None, kind: KeyKind, ip: str | None = None) -> Principal:
        """The principal of the presented key, after every check of the key (`ip`: the client's address)."""
        if presented:
            hit = self._verified.get(presented)
            if hit is not None and hit[0] > time.monotonic() and hit[1].kind == kind:
                principal = hit[1]
                if principal.access is OPEN:
                    return principal
                return check_key(principal, ip)
        principal = await self._check(presented, kind)
        if len(self._verified) > 100_000:
            self._verified.clear()
        assert presented is not None
        entry = self._cache.get(principal.key_id)
        self._verified[presented] = (entry[0] if entry is not None else 0.0, principal)
        return check_key(principal, ip)

    async def _check(self, presented: str | None, kind: KeyKind) -> Principal:
        if not presented:
            raise Unauthorized("Missing API key. Send it as 'Authorization: Bearer <key>'.")
        parsed = keys.parse(presented)
        if parsed is None:
            raise Unauthorized("Invalid API key: it is not a well-formed Weir key.")
        lookup = await self._lookup(parsed.key_id)
        if lookup is None or not keys.matches(self._pepper, parsed.secret, lookup.key.secret_hmac):
            raise Unauthorized("Invalid API key.")
        if lookup.key.revoked_at is not None:
            raise Unauthorized("This API key has been revoked.")
        if lookup.account_disabled:
            raise PermissionDenied("This API key's account is disabled; ask the operator.", code="account_disabled")
        if lookup.key.kind != kind or parsed.kind != kind:
            if kind == "inference":
                raise PermissionDenied("Management keys cannot make inference calls; use an inference key.")
            raise PermissionDenied("Inference keys cannot use the management API; use a management key.")
        access = self._tiers.access(lookup.key) if self._tiers is not None else OPEN
        if access.unknown_tier is not None:
            raise PermissionDenied(
                f"This API key's tier {access.unknown_tier!r} is not configured here; ask the operator to give the "
                "key a tier that exists (weir keys update KEY_ID --tier NAME).",
                code="tier_not_found",
            )
        key = lookup.key
        multiplier = -(-lookup.rate_multiplier_ppm * access.tier.price_multiplier_ppm // PPM)  # exact: 3 decimals each
        return Principal(
            key.id,
            key.kind,
            key.account_id,
            lookup.account_name,
            access,
            key.max_price_microcents,
            multiplier,
            key.spend_limit_microcents,
            key.spend_period or "total",
        )

    async def _lookup(self, key_id: str) -> KeyLookup | None:
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            lookup = await self._store.lookup_key(key_id)
        except StoreError as exc:
            if cached is not None and cached[1] is not None:
                return cached[1]  # serve a stale entry rather than refuse a valid key while the store is down
            raise ServiceUnavailable("The key store is unavailable; try again shortly.") from exc
        if lookup is not None:
            self._wallets.observe(lookup.key.account_id, lookup.balance_microcents)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[key_id] = (
            now + (self._ttl if lookup is not None else min(self._ttl, NEGATIVE_TTL)),
            lookup,
        )
        return lookup
