"""`/admin/v1/...`: operators, with a token from `[admin] tokens`: accounts, top-ups, any account's keys, ledger
and usage, usage across accounts, the configured models, and providers (pause, resume, health)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from msgspec import UNSET
from starlette.requests import Request
from starlette.responses import Response

from weir.admin import schemas
from weir.admin.auth import operator
from weir.admin.http import (
    PAGE_PARAMS,
    endpoint,
    in_pages,
    integer,
    json_response,
    list_json,
    page_args,
    query,
    read_json,
)
from weir.admin.tokens import AdminTokens
from weir.admin.usage import LIST_PARAMS, SUMMARY_PARAMS, usage_list, usage_summary
from weir.errors import InvalidRequest
from weir.service import Service, values, views
from weir.store.records import Account, AccountUpdate, Page

IDEMPOTENCY_HEADER = "idempotency-key"


def _amount(usd: Any, microcents: Any, name: str, *, required: bool) -> int | None:
    """One amount given in USD (`<name>_usd`, exact to 8 decimal places) or in microcents (`<name>_microcents`)."""
    given_usd, given_micro = usd is not msgspec.UNSET, microcents is not msgspec.UNSET
    if given_usd and given_micro:
        raise InvalidRequest(f"Give {name}_usd or {name}_microcents, not both.", param=f"{name}_usd")
    if given_usd:
        return values.usd(usd, f"{name}_usd")
    if given_micro:
        return int(microcents)
    if required:
        raise InvalidRequest(f"{name}_usd (or {name}_microcents) is required.", param=f"{name}_usd")
    return None


class Operator:
    def __init__(self, service: Callable[[], Service], tokens: AdminTokens) -> None:
        self._service = service
        self.tokens = tokens

    @property
    def service(self) -> Service:
        return self._service()

    def _check(self, request: Request, accepted: tuple[str, ...] = ()) -> dict[str, str]:
        operator(request, self.tokens)
        return query(request, accepted)

    async def _account(self, request: Request) -> int:
        """The account id of the path, once it is known to exist."""
        account_id: int = request.path_params["account_id"]
        await self.service.accounts.get_by_id(account_id)
        return account_id

    # Accounts

    @endpoint
    async def accounts(self, request: Request) -> Response:
        params = self._check(request, (*PAGE_PARAMS, "name"))
        limit, cursor = page_args(params)
        if "name" in params:  # a lookup by name: a page of one account or none
            found = await self.service.accounts.find(params["name"])
            page: Page[Account] = Page(items=[found] if found else [], next_cursor=None)
        else:
            page = await self.service.accounts.list(limit, cursor)
        return json_response(list_json(page, views.account_json))

    @endpoint
    async def create_account(self, request: Request) -> Response:
        self._check(request)
        body = await read_json(request, schemas.CreateAccount)
        balance = _amount(body.balance_usd, body.balance_microcents, "balance", required=False) or 0
        return json_response(views.account_json(await self.service.accounts.create(body.name, balance)), status=201)

    @endpoint
    async def account(self, request: Request) -> Response:
        self._check(request)
        return json_response(
            views.account_json(await self.service.accounts.get_by_id(request.path_params["account_id"]))
        )

    @endpoint
    async def update_account(self, request: Request) -> Response:
        self._check(request)
        body = await read_json(request, schemas.UpdateAccount)
        rate = UNSET if body.rate_multiplier is UNSET else values.multiplier(body.rate_multiplier, "rate_multiplier")
        changes = AccountUpdate(disabled=body.disabled, rate_multiplier_ppm=rate, allowed_tiers=body.allowed_tiers)
        account = await self.service.accounts.update(request.path_params["account_id"], changes)
        return json_response(views.account_json(account))

    @endpoint
    async def topup(self, request: Request) -> Response:
        """201 with the top-up; a retry with the same Idempotency-Key gets the first one, 200 and
        `Idempotent-Replayed: true`, and nothing is applied again."""
        self._check(request)
        body = await read_json(request, schemas.TopUp)
        amount = _amount(body.amount_usd, body.amount_microcents, "amount", required=True)
        assert amount is not None
        key = request.headers.get(IDEMPOTENCY_HEADER)
        done = await self.service.accounts.topup(request.path_params["account_id"], amount, body.note, key)
        headers = {"idempotent-replayed": "true"} if done.replayed else None
        return json_response(views.topup_json(done), status=200 if done.replayed else 201, headers=headers)

    @endpoint
    async def ledger(self, request: Request) -> Response:
        limit, cursor = page_args(self._check(request, PAGE_PARAMS))
        page = await self.service.accounts.ledger(await self._account(request), limit, cursor)
        return json_response(list_json(page, views.ledger_json))

    # Any account's keys

    @endpoint
    async def keys(self, request: Request) -> Response:
        limit, cursor = page_args(self._check(request, PAGE_PARAMS))
        page = await self.service.keys.page(await self._account(request), limit, cursor)
        return json_response(list_json(page, views.key_json))

    @endpoint
    async def create_key(self, request: Request) -> Response:
        self._check(request)
        body = await read_json(request, schemas.CreateKey)
        made = await self.service.keys.create(request.path_params["account_id"], body.kind, body.name, body.changes())
        return json_response({**views.key_json(made.key), "key": made.plaintext}, status=201)

    @endpoint
    async def update_key(self, request: Request) -> Response:
        self._check(request)
        body = await read_json(request, schemas.UpdateKey)
        account_id, key_id = request.path_params["account_id"], request.path_params["key_id"]
        return json_response(
            views.key_json(await self.service.keys.update(key_id, body.changes(name=body.name), account_id))
        )

    @endpoint
    async def revoke_key(self, request: Request) -> Response:
        self._check(request)
        account_id, key_id = request.path_params["account_id"], request.path_params["key_id"]
        return json_response(views.key_json(await self.service.keys.revoke(key_id, account_id)))

    # Usage

    @endpoint
    async def account_usage(self, request: Request) -> Response:
        params = self._check(request, LIST_PARAMS)
        return await usage_list(self.service, await self._account(request), params)

    @endpoint
    async def account_usage_summary(self, request: Request) -> Response:
        params = self._check(request, SUMMARY_PARAMS)
        return await usage_summary(self.service, await self._account(request), params, ("day", "model", "key"))

    @endpoint
    async def usage(self, request: Request) -> Response:
        params = self._check(request, (*LIST_PARAMS, "account"))
        return await usage_list(self.service, await self._named_account(params), params)

    @endpoint
    async def usage_summary(self, request: Request) -> Response:
        params = self._check(request, (*SUMMARY_PARAMS, "account"))
        groups = ("day", "model", "key", "account")
        return await usage_summary(self.service, await self._named_account(params), params, groups)

    async def _named_account(self, params: dict[str, str]) -> int | None:
        if "account" not in params:
            return None
        account_id = integer(params, "account", 0)
        await self.service.accounts.get_by_id(account_id)
        return account_id

    # The catalog

    @endpoint
    async def models(self, request: Request) -> Response:
        limit, cursor = page_args(self._check(request, PAGE_PARAMS))
        listed = in_pages(await self.service.catalog.model_views(), "models", limit, cursor)
        return json_response(list_json(listed, lambda view: views.model_json(view.model, view)))

    @endpoint
    async def model(self, request: Request) -> Response:
        self._check(request)
        view = await self.service.catalog.model_view(request.path_params["name"])
        return json_response(views.model_json(view.model, view))

    @endpoint
    async def update_model(self, request: Request) -> Response:
        """PATCH a model's prices: `{"price": {"input": 2.5, ...}}` changes those given, `{"price": null}` goes back
        to the configuration's."""
        self._check(request)
        body = await read_json(request, schemas.UpdateModel)
        name, catalog = request.path_params["name"], self.service.catalog
        if body.price is None:
            view = await catalog.reset_prices(name)
        elif body.price is UNSET:
            view = await catalog.model_view(name)
        else:
            view = await catalog.set_prices(name, body.price.changes())
        return json_response(views.model_json(view.model, view))

    @endpoint
    async def disable_model(self, request: Request) -> Response:
        self._check(request)
        body = await read_json(request, schemas.Pause)
        view = await self.service.catalog.disable_model(request.path_params["name"], body.reason)
        return json_response(views.model_json(view.model, view))

    @endpoint
    async def enable_model(self, request: Request) -> Response:
        self._check(request)
        await read_json(request, schemas.Body)
        view = await self.service.catalog.enable_model(request.path_params["name"])
        return json_response(views.model_json(view.model, view))

    @endpoint
    async def tiers(self, request: Request) -> Response:
        limit, cursor = page_args(self._check(request, PAGE_PARAMS))
        default = self.service.config.auth.default_tier
        listed = in_pages(await self.service.tiers.views(), "tiers", limit, cursor)
        return json_response(list_json(listed, lambda view: views.tier_view_json(view, default)))

    @endpoint
    async def tier(self, request: Request) -> Response:
        self._check(request)
        view = await self.service.tiers.view(request.path_params["name"])
        return json_response(views.tier_view_json(view, self.service.config.auth.default_tier))

    @endpoint
    async def update_tier(self, request: Request) -> Response:
        """PATCH a tier's settings (those given; a limit of null: unlimited, models null: every model)."""
        self._check(request)
        body = await read_json(request, schemas.UpdateTier)
        view = await self.service.tiers.update(request.path_params["name"], body.changes())
        return json_response(views.tier_view_json(view, self.service.config.auth.default_tier))

    @endpoint
    async def reset_tier(self, request: Request) -> Response:
        """The configuration's settings again."""
        self._check(request)
        view = await self.service.tiers.reset(request.path_params["name"])
        return json_response(views.tier_view_json(view, self.service.config.auth.default_tier))

    @endpoint
    async def providers(self, request: Request) -> Response:
        limit, cursor = page_args(self._check(request, PAGE_PARAMS))
        listed = in_pages(await self.service.catalog.providers(), "providers", limit, cursor)
        return json_response(list_json(listed, views.provider_json))

    @endpoint
    async def provider(self, request: Request) -> Response:
        self._check(request)
        return json_response(views.provider_json(await self.service.catalog.provider(request.path_params["name"])))

    @endpoint
    async def pause(self, request: Request) -> Response:
        self._check(request)
        body = await read_json(request, schemas.Pause)
        return json_response(
            views.provider_json(await self.service.catalog.pause(request.path_params["name"], body.reason))
        )

    @endpoint
    async def resume(self, request: Request) -> Response:
        self._check(request)
        await read_json(request, schemas.Body)
        return json_response(views.provider_json(await self.service.catalog.resume(request.path_params["name"])))
