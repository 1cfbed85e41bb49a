"""Tiers: the configured ones, each with the operator's settings in its place when they are set (`weir tiers set`,
PATCH /admin/v1/tiers/{name}). Stored, they reach every worker and replica within auth.key_cache_ttl_seconds;
a key's cached access keeps the old settings until then. Tiers are named in the configuration: the operator
changes what a tier allows and costs, not which tiers exist."""

from __future__ import annotations

from typing import Any

import msgspec

from weir.config import Config, Tier, has_limits, tier_problems, workers_problem
from weir.service.errors import Invalid, NotFound
from weir.store.base import Store

SETTINGS = tuple(f for f in Tier.__struct_fields__ if f != "name")  # what an operator may change
MAX_DESCRIPTION = 500


class TierView(msgspec.Struct, frozen=True):
    tier: Tier  # the settings in effect
    settings_set: bool  # the operator's (the store's), not the configuration's


def tier_missing(name: str, config: Config) -> NotFound:
    known = ", ".join(t.name for t in config.tiers) or "none is configured ([[tiers]] in weir.toml)"
    return NotFound(f"no tier named {name!r} (tiers: {known})", code="tier_not_found")


class Tiers:
    def __init__(self, store: Store, config: Config) -> None:
        self._store = store
        self._config = config

    async def views(self) -> list[TierView]:
        """Every configured tier with the settings in effect (stored settings no worker could read are skipped by
        the workers too: the configured ones are shown)."""
        stored = {s.name: s.settings for s in await self._store.list_tier_states()}
        found: list[TierView] = []
        for tier in self._config.tiers:
            text = stored.get(tier.name)
            try:
                found.append(TierView(msgspec.json.decode(text, type=Tier), True) if text else TierView(tier, False))
            except (msgspec.DecodeError, msgspec.ValidationError):
                found.append(TierView(tier, False))
        return found

    async def view(self, name: str) -> TierView:
        for view in await self.views():
            if view.tier.name == name:
                return view
        raise tier_missing(name, self._config)

    async def tier(self, name: str) -> Tier:
        return (await self.view(name)).tier

    async def update(self, name: str, changes: dict[str, Any]) -> TierView:
        """Change a tier's settings (`changes` maps Tier fields to new values; a limit of None: unlimited; models
        None: every model); the others keep the values in effect."""
        current = (await self.view(name)).tier
        unknown = sorted(set(changes) - set(SETTINGS))
        if unknown:
            raise Invalid(unknown[0], f"is not a tier setting; the settings are {', '.join(SETTINGS)}")
        if not changes:
            raise Invalid("settings", f"give at least one setting ({', '.join(SETTINGS)})")
        merged = {**msgspec.structs.asdict(current), **changes}
        try:
            tier = msgspec.convert(merged, type=Tier)
        except msgspec.ValidationError as exc:
            raise Invalid(*_split(str(exc).replace("$.", "").replace("`", ""))) from None
        if len(tier.description) > MAX_DESCRIPTION:
            raise Invalid("description", f"must be at most {MAX_DESCRIPTION} characters, got {len(tier.description)}")
        names = {n for m in self._config.models for n in (m.id, *m.aliases)}
        if problems := tier_problems(tier, "tier", names):
            raise Invalid(*_split(problems[0].removeprefix("tier.")))
        if has_limits(tier) and (problem := workers_problem(self._config, name)) is not None:
            raise Invalid("limits", problem.removeprefix("server.workers: "))
        await self._store.set_tier_settings(name, msgspec.json.encode(tier).decode())
        return await self.view(name)

    async def reset(self, name: str) -> TierView:
        """The configuration's settings again."""
        await self.view(name)
        await self._store.set_tier_settings(name, None)
        return await self.view(name)


def _split(problem: str) -> tuple[str, str]:
    """'param: reason' (as the configuration's checks and msgspec word them) as (param, reason)."""
    if " - at " in problem:  # msgspec: "Expected `int`, got `str` - at `$.max_concurrent`"
        reason, _, param = problem.rpartition(" - at ")
        return param, reason.lower()
    param, _, reason = problem.partition(": ")
    return param, reason


__all__ = ["SETTINGS", "TierView", "Tiers", "tier_missing"]
