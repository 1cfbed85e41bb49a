"""An operator's pages: accounts (list, create), one account with its top-up form and ledger, models (enable,
disable) and providers (pause, resume, with what the workers report of their health)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from weir.console.context import Console, page_size, to
from weir.console.principal import Viewer
from weir.service import values, views
from weir.service.errors import ServiceError

NOTICES = {
    "topup": "The top-up is applied.",
    "replayed": "That top-up was already applied (the same form was sent again); nothing was added.",
    "created": "The account is created.",
}


def _error(exc: ServiceError) -> str:
    return f"{exc.param + ': ' if exc.param else ''}{exc.message}"


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


class OperatorPages:
    def __init__(self, console: Console) -> None:
        self.console = console

    async def accounts(self, request: Request, viewer: Viewer, error: str | None = None, status: int = 200) -> Response:
        cursor = request.query_params.get("cursor") or None
        context: dict[str, Any] = {"title": "Accounts", "error": error, "page": None}
        try:
            context["page"] = await self.console.service.accounts.list(page_size(request), cursor)
        except ServiceError as exc:
            context["error"], status = _error(exc), 400
        return self.console.page(request, "operator/accounts.html", context, viewer, status)

    async def accounts_page(self, request: Request, viewer: Viewer) -> Response:
        return await self.accounts(request, viewer)

    async def create_account(self, request: Request, viewer: Viewer) -> Response:
        form = await self.console.form(request, viewer.session.sid)
        name, balance = _text(form.get("name")), _text(form.get("balance_usd"))
        try:
            opening = values.usd(balance, "balance_usd") if balance else 0
            made = await self.console.service.accounts.create(name, opening)
        except ServiceError as exc:
            return await self.accounts(request, viewer, _error(exc), 400)
        return to(f"/accounts/{made.id}?notice=created")

    async def account(self, request: Request, viewer: Viewer, error: str | None = None, status: int = 200) -> Response:
        service = self.console.service
        account_id: int = request.path_params["account_id"]
        cursor = request.query_params.get("cursor") or None
        try:
            account = await service.accounts.get_by_id(account_id)
            ledger = await service.accounts.ledger(account_id, page_size(request), cursor)
        except ServiceError as exc:
            message = {"title": "Account", "message": exc.message}
            return self.console.page(request, "error.html", message, viewer, 404)
        context = {
            "title": f"Account {account.name}",
            "account": account,
            "page": ledger,
            "error": error,
            "notice": NOTICES.get(request.query_params.get("notice", "")),
            "idempotency_key": uuid.uuid4().hex,  # one per rendered form: sending it twice tops up once
        }
        return self.console.page(request, "operator/account.html", context, viewer, status)

    async def account_page(self, request: Request, viewer: Viewer) -> Response:
        return await self.account(request, viewer)

    async def topup(self, request: Request, viewer: Viewer) -> Response:
        form = await self.console.form(request, viewer.session.sid)
        account_id: int = request.path_params["account_id"]
        note = _text(form.get("note")) or None
        try:
            amount = values.usd(_text(form.get("amount_usd")), "amount_usd")
            key = _text(form.get("idempotency_key")) or None
            done = await self.console.service.accounts.topup(account_id, amount, note, key)
        except ServiceError as exc:
            return await self.account(request, viewer, _error(exc), 400)
        return to(f"/accounts/{account_id}?notice={'replayed' if done.replayed else 'topup'}")

    async def models(self, request: Request, viewer: Viewer, error: str | None = None, status: int = 200) -> Response:
        listed = await self.console.service.catalog.model_views()
        rows = [views.model_json(view.model, view) for view in listed]
        context = {"title": "Models", "rows": rows, "error": error}
        return self.console.page(request, "operator/models.html", context, viewer, status)

    async def models_page(self, request: Request, viewer: Viewer) -> Response:
        return await self.models(request, viewer)

    async def switch_model(self, request: Request, viewer: Viewer) -> Response:
        form = await self.console.form(request, viewer.session.sid)
        catalog, name = self.console.service.catalog, _text(form.get("name"))
        try:
            if form.get("action") == "enable":
                await catalog.enable_model(name)
            else:
                await catalog.disable_model(name, _text(form.get("reason")) or None)
        except ServiceError as exc:
            return await self.models(request, viewer, _error(exc), 400)
        return to("/operator/models")

    async def providers(
        self, request: Request, viewer: Viewer, error: str | None = None, status: int = 200
    ) -> Response:
        rows = [views.provider_json(view) for view in await self.console.service.catalog.providers()]
        context = {"title": "Providers", "rows": rows, "error": error}
        return self.console.page(request, "operator/providers.html", context, viewer, status)

    async def providers_page(self, request: Request, viewer: Viewer) -> Response:
        return await self.providers(request, viewer)

    async def switch_provider(self, request: Request, viewer: Viewer) -> Response:
        form = await self.console.form(request, viewer.session.sid)
        catalog, name = self.console.service.catalog, _text(form.get("name"))
        try:
            if form.get("action") == "resume":
                await catalog.resume(name)
            else:
                await catalog.pause(name, _text(form.get("reason")) or None)
        except ServiceError as exc:
            return await self.providers(request, viewer, _error(exc), 400)
        return to("/operator/providers")
