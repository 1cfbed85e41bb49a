"""The management API's route table, over one service (made when the gateway's store is open)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from weir.admin.operator import Operator
from weir.admin.owner import Owner
from weir.admin.tokens import AdminTokens
from weir.gateway import Gateway
from weir.service import Service

__all__ = ["admin_routes"]


def admin_routes(gateway: Gateway) -> list[BaseRoute]:
    services: list[Service] = []

    def service() -> Service:  # made on first use: the gateway's store opens with the app
        if not services:
            services.append(Service(gateway.store, gateway.config))
        return services[0]

    me = Owner(service, lambda: gateway.auth)
    op = Operator(service, AdminTokens(gateway.config.admin.tokens))
    account = "/admin/v1/accounts/{account_id:int}"
    return [
        Route("/v1/account", me.account, methods=["GET"]),
        Route("/v1/account/keys", me.keys, methods=["GET"]),
        Route("/v1/account/keys", me.create_key, methods=["POST"]),
        Route("/v1/account/keys/{key_id}", me.update_key, methods=["PATCH"]),
        Route("/v1/account/keys/{key_id}", me.revoke_key, methods=["DELETE"]),
        Route("/v1/account/usage", me.usage, methods=["GET"]),
        Route("/v1/account/usage/summary", me.usage_summary, methods=["GET"]),
        Route("/v1/account/ledger", me.ledger, methods=["GET"]),
        Route("/v1/generations/{request_id}", me.generation, methods=["GET"]),
        Route("/admin/v1/accounts", op.accounts, methods=["GET"]),
        Route("/admin/v1/accounts", op.create_account, methods=["POST"]),
        Route(account, op.account, methods=["GET"]),
        Route(account, op.update_account, methods=["PATCH"]),
        Route(f"{account}/topups", op.topup, methods=["POST"]),
        Route(f"{account}/ledger", op.ledger, methods=["GET"]),
        Route(f"{account}/keys", op.keys, methods=["GET"]),
        Route(f"{account}/keys", op.create_key, methods=["POST"]),
        Route(account + "/keys/{key_id}", op.update_key, methods=["PATCH"]),
        Route(account + "/keys/{key_id}", op.revoke_key, methods=["DELETE"]),
        Route(f"{account}/usage", op.account_usage, methods=["GET"]),
        Route(f"{account}/usage/summary", op.account_usage_summary, methods=["GET"]),
        Route("/admin/v1/usage", op.usage, methods=["GET"]),
        Route("/admin/v1/usage/summary", op.usage_summary, methods=["GET"]),
        Route("/admin/v1/models", op.models, methods=["GET"]),
        Route("/admin/v1/models/{name:path}/disable", op.disable_model, methods=["POST"]),
        Route("/admin/v1/models/{name:path}/enable", op.enable_model, methods=["POST"]),
        Route("/admin/v1/models/{name:path}", op.model, methods=["GET"]),
        Route("/admin/v1/models/{name:path}", op.update_model, methods=["PATCH"]),
        Route("/admin/v1/tiers", op.tiers, methods=["GET"]),
        Route("/admin/v1/tiers/{name}", op.tier, methods=["GET"]),
        Route("/admin/v1/tiers/{name}", op.update_tier, methods=["PATCH"]),
        Route("/admin/v1/tiers/{name}/reset", op.reset_tier, methods=["POST"]),
        Route("/admin/v1/providers", op.providers, methods=["GET"]),
        Route("/admin/v1/providers/{name}", op.provider, methods=["GET"]),
        Route("/admin/v1/providers/{name}/pause", op.pause, methods=["POST"]),
        Route("/admin/v1/providers/{name}/resume", op.resume, methods=["POST"]),
    ]
