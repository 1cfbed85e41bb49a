"""The console's route table: `/console/...` (pages, forms and static files, each response with the security
headers) and the public `/pricing`."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route, Router, request_response
from starlette.staticfiles import StaticFiles

from weir.console.context import BASE, Console, Handler, signed_in
from weir.console.headers import SecurityHeaders
from weir.console.operator import OperatorPages
from weir.console.owner import OwnerPages
from weir.console.pricing import Pricing
from weir.console.render import STATIC
from weir.console.signin import SignIn
from weir.gateway import Gateway

__all__ = ["console_routes"]


def console_routes(gateway: Gateway) -> list[BaseRoute]:
    console = Console(gateway)
    entry, me, op = SignIn(console), OwnerPages(console), OperatorPages(console)

    def owner(path: str, handler: Handler, methods: tuple[str, ...] = ("GET",)) -> Route:
        return Route(path, signed_in(console, "owner", handler), methods=list(methods))

    def operator(path: str, handler: Handler, methods: tuple[str, ...] = ("GET",)) -> Route:
        return Route(path, signed_in(console, "operator", handler), methods=list(methods))

    pages = Router(
        routes=[
            Route("/", entry.home, methods=["GET"]),
            Route("/login", entry.login_page, methods=["GET"]),
            Route("/login", entry.login, methods=["POST"]),
            Route("/logout", entry.logout, methods=["POST"]),
            owner("/overview", me.overview),
            owner("/keys", me.keys),
            owner("/keys", me.create_key, ("POST",)),
            owner("/keys/{key_id}/revoke", me.revoke_key, ("POST",)),
            owner("/wallet", me.wallet),
            owner("/usage", me.usage),
            owner("/usage.csv", me.usage_csv),
            owner("/models", me.models),
            operator("/accounts", op.accounts_page),
            operator("/accounts", op.create_account, ("POST",)),
            operator("/accounts/{account_id:int}", op.account_page),
            operator("/accounts/{account_id:int}/topup", op.topup, ("POST",)),
            operator("/operator/models", op.models_page),
            operator("/operator/models", op.switch_model, ("POST",)),
            operator("/operator/providers", op.providers_page),
            operator("/operator/providers", op.switch_provider, ("POST",)),
            Mount("/static", app=SecurityHeaders(StaticFiles(directory=STATIC), cache=True), name="static"),
        ]
    )
    return [
        Mount(BASE, app=SecurityHeaders(pages)),
        Route("/pricing", SecurityHeaders(request_response(Pricing(console).page)), methods=["GET"]),
    ]
