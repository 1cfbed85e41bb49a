"""What one key may do: its tier, its limits (the tier's, with the key's own values over them), the models it may
call, the addresses it may call from, and when it expires. Built once per key lookup (authenticate), read on every
call; each answer about a model or an address is worked out once per key and remembered."""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from fnmatch import translate

import msgspec

from weir.config import Config, Tier
from weir.config.validate import GLOB_CHARS, TIER_LIMITS
from weir.limits.base import UNLIMITED, Limits
from weir.store.records import ApiKey, TierState

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PPM = 1_000_000  # multipliers are kept in parts per million: 1x = 1,000,000
MAX_REMEMBERED = 1024  # answers remembered per key (models, addresses); past it they are worked out again
DEFAULT_TIER = "default"  # the name of the unlimited tier of keys that name none when auth.default_tier is unset
log = logging.getLogger("weir.access")


class ModelAccess:
    """A list of model ids, aliases and glob patterns ("claude-*"); a model matches when its id or one of its
    aliases does. Case-sensitive, as model names are."""

    __slots__ = ("_exact", "_globs", "_seen", "patterns")

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        self._exact = frozenset(p for p in self.patterns if not GLOB_CHARS.intersection(p))
        globs = [translate(p) for p in self.patterns if GLOB_CHARS.intersection(p)]
        self._globs = re.compile("|".join(globs)) if globs else None
        self._seen: dict[str, bool] = {}

    def allows(self, model_id: str, aliases: Sequence[str] = ()) -> bool:
        seen = self._seen.get(model_id)
        if seen is None:
            names = (model_id, *aliases)
            seen = any(n in self._exact for n in names) or (
                self._globs is not None and any(self._globs.match(n) for n in names)
            )
            if len(self._seen) >= MAX_REMEMBERED:
                self._seen.clear()
            self._seen[model_id] = seen
        return seen


class TierRules:
    """One [[tiers]] entry, ready for calls."""

    __slots__ = ("description", "limits", "models", "name", "price_multiplier_ppm")

    def __init__(self, tier: Tier) -> None:
        self.name = tier.name
        self.description = tier.description
        self.limits = merged(UNLIMITED, {f: getattr(tier, f) for f in TIER_LIMITS})
        self.models = ModelAccess(tier.models) if tier.models is not None else None  # None: every model
        self.price_multiplier_ppm = round(tier.price_multiplier * PPM)


def merged(base: Limits, own: Mapping[str, int | None] | None) -> Limits:
    """`base` with the values of `own` over it (a value of None in `own` leaves the base's); UNLIMITED itself when
    nothing is limited, so that the limiter's check for it is one comparison."""
    if not own:
        return base
    values = {f: getattr(base, f) for f in TIER_LIMITS}
    values.update({name: value for name, value in own.items() if name in values and value is not None})
    limits = Limits(**values)
    return UNLIMITED if limits == UNLIMITED else limits


class KeyAccess:
    """What one key may do, as its tier and its own settings say. A key's own model list narrows its tier's (a
    model must be in both); its own limits replace its tier's, one by one."""

    __slots__ = ("_ips", "expires_at", "limits", "models", "networks", "own_models", "tier", "unknown_tier")

    def __init__(
        self,
        tier: TierRules,
        *,
        limits: Limits | None = None,
        models: ModelAccess | None = None,
        networks: tuple[Network, ...] | None = None,
        expires_at: int | None = None,
        unknown_tier: str | None = None,
    ) -> None:
        self.tier = tier
        self.limits = tier.limits if limits is None else limits
        self.models = tier.models  # None: every model
        self.own_models = models  # None: no list of its own
        self.networks = networks  # None: any address
        self.expires_at = expires_at  # Unix ms; None: never
        self.unknown_tier = unknown_tier  # the key names a tier the configuration no longer has
        self._ips: dict[str, bool] = {}

    @property
    def restricts_models(self) -> bool:
        return self.models is not None or self.own_models is not None

    def allows_model(self, model_id: str, aliases: Sequence[str] = ()) -> bool:
        return (self.models is None or self.models.allows(model_id, aliases)) and (
            self.own_models is None or self.own_models.allows(model_id, aliases)
        )

    def allows_ip(self, ip: str | None) -> bool:
        """Whether a call may come from `ip` (None: the server gave no address; refused by an allow-list)."""
        networks = self.networks
        if networks is None:
            return True
        if ip is None:
            return False
        seen = self._ips.get(ip)
        if seen is None:
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                seen = False
            else:
                seen = any(address.version == n.version and address in n for n in networks)
            if len(self._ips) >= MAX_REMEMBERED:
                self._ips.clear()
            self._ips[ip] = seen
        return seen


def networks_of(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """The networks of an allow-list (checked when it was stored; an entry that no longer parses allows nothing)."""
    found: list[Network] = []
    for cidr in cidrs:
        try:
            found.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            continue
    return tuple(found)


OPEN_TIER = TierRules(Tier(name=DEFAULT_TIER))
OPEN = KeyAccess(OPEN_TIER)  # no tier, no limit, every model, any address, no expiry


class Tiers:
    """The configured tiers, and the access of each key."""

    def __init__(self, config: Config) -> None:
        self._configured = {t.name: t for t in config.tiers}
        self._default_name = config.auth.default_tier
        self._applied: dict[str, str] = {}  # tier name -> the store's settings in effect
        self._changed: list[Callable[[], None]] = []  # called when the tiers in effect change (apply_states)
        self._use(dict(self._configured))

    def _use(self, tiers: dict[str, Tier]) -> None:
        self.by_name = {name: TierRules(t) for name, t in tiers.items()}
        default = self._default_name
        self.default = self.by_name[default] if default is not None else OPEN_TIER

    def apply_states(self, states: Sequence[TierState]) -> None:
        """The operator's settings for configured tiers, from the store (`weir tiers set`), in place of the
        configured ones; keys see them at their next call (the `on_change` callbacks forget every key's access)."""
        applied = {s.name: s.settings for s in states if s.name in self._configured}
        if applied == self._applied:
            return
        tiers = dict(self._configured)
        for name, text in applied.items():
            try:
                tiers[name] = msgspec.json.decode(text, type=Tier)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:  # never written so by Weir
                log.error("tier %s: its stored settings are unreadable (%s); the configured ones apply", name, exc)
        self._use(tiers)
        self._applied = applied
        for changed in self._changed:
            changed()

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever apply_states changes the tiers in effect."""
        self._changed.append(callback)

    def access(self, key: ApiKey) -> KeyAccess:
        tier = self.by_name.get(key.tier) if key.tier is not None else self.default
        if tier is OPEN_TIER and key.limits is None and key.models is None and key.ip_allow is None:
            if key.expires_at is None:
                return OPEN  # the common case of a gateway without tiers: nothing to check per call
        unknown = None
        if tier is None:  # refused at authentication; limits stay the default tier's meanwhile
            tier, unknown = self.default, key.tier
        own_models = key.models
        return KeyAccess(
            tier,
            limits=merged(tier.limits, key.limits),
            models=ModelAccess(own_models) if own_models is not None else None,
            networks=networks_of(key.ip_allow) if key.ip_allow is not None else None,
            expires_at=key.expires_at,
            unknown_tier=unknown,
        )

    @property
    def any_limits(self) -> bool:
        """Whether some tier has a limit (keys may have their own too: the store is not read for that)."""
        return any(t.limits is not UNLIMITED for t in self.by_name.values())
