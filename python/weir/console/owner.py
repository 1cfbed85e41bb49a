"""A key owner's pages: overview (balance, spend, charts), API keys, wallet, usage logs (and their CSV) and the
models with the prices the account pays. Every read and change goes through the service, on the viewer's account."""

from __future__ import annotations

from typing import Any

from msgspec import UNSET
from starlette.requests import Request
from starlette.responses import Response

from weir.admin.usage import FILTERS, usage_list
from weir.billing.prices import TokenPrice, usd_prices
from weir.config.validate import TIER_LIMITS
from weir.console.context import Console, page_size, to
from weir.console.principal import Viewer
from weir.console.render import day
from weir.service import values
from weir.service.errors import ServiceError
from weir.service.usage import Filters
from weir.store._common import now_ms
from weir.store.queries import DAY_MS
from weir.store.records import Account, KeyKind, KeyUpdate

DAYS = 30  # the overview's charts: today and the 29 days before (UTC)
NOTICES = {"revoked": "The key is revoked: calls with it are refused from now on (within a second or so)."}


def _account(viewer: Viewer) -> Account:
    assert viewer.account is not None
    return viewer.account


def filters_of(request: Request) -> dict[str, str]:
    """The usage filters of the query string that are set (key, model, status, since, until)."""
    return {name: value.strip() for name in FILTERS if (value := request.query_params.get(name, "")).strip()}


class OwnerPages:
    def __init__(self, console: Console) -> None:
        self.console = console

    async def overview(self, request: Request, viewer: Viewer) -> Response:
        account = _account(viewer)
        usage = self.console.service.usage
        now = now_ms()
        today = now - now % DAY_MS  # UTC midnight
        query = await usage.query(account.id, Filters(since=str(today - (DAYS - 1) * DAY_MS)))
        days = {int(g.group): g for g in (await usage.summary(query, "day")).groups}
        by_model = (await usage.summary(query, "model")).groups
        spend = {
            "today": sum(g.cost_microcents for d, g in days.items() if d >= today),
            "week": sum(g.cost_microcents for d, g in days.items() if d >= today - 6 * DAY_MS),
            "month": sum(g.cost_microcents for g in days.values()),
        }
        series = [today - i * DAY_MS for i in range(DAYS - 1, -1, -1)]
        chart = {
            "days": [day(d) for d in series],
            "spend_usd": [(days[d].cost_microcents if d in days else 0) / 100_000_000 for d in series],
            "models": [str(g.group) for g in by_model],
            "calls": [g.calls for g in by_model],
        }
        context = {"title": "Overview", "account": account, "spend": spend, "chart": chart, "by_model": by_model}
        return self.console.page(request, "owner/overview.html", context, viewer)

    async def keys(self, request: Request, viewer: Viewer) -> Response:
        return await self._keys(request, viewer)

    async def _keys(
        self, request: Request, viewer: Viewer, made: str | None = None, error: str | None = None, status: int = 200
    ) -> Response:
        account = _account(viewer)
        service = self.console.service
        cursor = request.query_params.get("cursor") or None
        try:
            page = await service.keys.page(account.id, page_size(request), cursor)
        except ServiceError as exc:
            return self.console.page(request, "error.html", {"title": "Keys", "message": exc.message}, viewer, 400)
        context = {
            "title": "API keys",
            "account": account,
            "page": page,
            "made": made,
            "error": error,
            "tiers": {view.tier.name: view.tier for view in await service.tiers.views()},
            "default_tier": service.config.auth.default_tier,
            "limit_names": TIER_LIMITS,
            "notice": NOTICES.get(request.query_params.get("notice", "")),
        }
        return self.console.page(request, "owner/keys.html", context, viewer, status)

    async def create_key(self, request: Request, viewer: Viewer) -> Response:
        """The new key is shown on this response only (never stored, never in a URL)."""
        form = await self.console.form(request, viewer.session.sid)
        account = _account(viewer)
        text = {name: str(form.get(name) or "").strip() for name in ("name", "kind", "tier", "expires", "ip_allow")}
        kind: KeyKind = "management" if text["kind"] == "management" else "inference"
        try:
            settings = KeyUpdate(
                tier=text["tier"] if text["tier"] and kind == "inference" else UNSET,
                expires_at=values.expiry(text["expires"], "expires", now_ms()) if text["expires"] else UNSET,
                ip_allow=values.items(text["ip_allow"]) if text["ip_allow"] else UNSET,
            )
            made = await self.console.service.keys.create(account.id, kind, text["name"] or None, settings, owner=True)
        except ServiceError as exc:
            return await self._keys(request, viewer, error=f"{exc.param + ': ' if exc.param else ''}{exc.message}")
        return await self._keys(request, viewer, made=made.plaintext, status=201)

    async def revoke_key(self, request: Request, viewer: Viewer) -> Response:
        await self.console.form(request, viewer.session.sid)
        try:
            await self.console.service.keys.revoke(request.path_params["key_id"], _account(viewer).id)
        except ServiceError as exc:
            return await self._keys(request, viewer, error=exc.message, status=400)
        return to("/keys?notice=revoked")

    async def wallet(self, request: Request, viewer: Viewer) -> Response:
        account = _account(viewer)
        cursor = request.query_params.get("cursor") or None
        try:
            page = await self.console.service.accounts.ledger(account.id, page_size(request), cursor)
        except ServiceError as exc:
            return self.console.page(request, "error.html", {"title": "Wallet", "message": exc.message}, viewer, 400)
        context = {"title": "Wallet", "account": account, "page": page}
        return self.console.page(request, "owner/wallet.html", context, viewer)

    async def usage(self, request: Request, viewer: Viewer) -> Response:
        account = _account(viewer)
        service = self.console.service
        params = filters_of(request)
        cursor = request.query_params.get("cursor") or None
        context: dict[str, Any] = {"title": "Usage", "account": account, "filters": params, "page": None}
        try:
            query = await service.usage.query(account.id, Filters(**params))
            context["page"] = await service.usage.page(query, page_size(request), cursor)
        except ServiceError as exc:
            context["error"] = f"{exc.param + ': ' if exc.param else ''}{exc.message}"
        context["keys"] = (await service.keys.page(account.id, 200)).items
        return self.console.page(request, "owner/usage.html", context, viewer, 400 if "error" in context else 200)

    async def usage_csv(self, request: Request, viewer: Viewer) -> Response:
        """The CSV the management API gives (`GET /v1/account/usage?format=csv`), with the page's filters."""
        try:
            return await usage_list(self.console.service, _account(viewer).id, {**filters_of(request), "format": "csv"})
        except ServiceError as exc:
            return self.console.page(request, "error.html", {"title": "Usage", "message": exc.message}, viewer, 400)

    async def models(self, request: Request, viewer: Viewer) -> Response:
        account = _account(viewer)
        rows = await model_rows(self.console, account.rate_multiplier_ppm)
        context = {"title": "Models and prices", "account": account, "rows": rows}
        return self.console.page(request, "owner/models.html", context, viewer)


async def model_rows(console: Console, multiplier_ppm: int = 1_000_000) -> list[dict[str, Any]]:
    """Every enabled model with its prices in USD (times `multiplier_ppm`): per 1M tokens, and per unit."""
    rows = []
    for view in await console.service.catalog.model_views():
        if view.disabled:
            continue
        pricing = usd_prices(TokenPrice.from_config(view.model.price), multiplier_ppm)
        rows.append({"id": view.model.id, "aliases": view.model.aliases, "pricing": pricing})
    return rows
