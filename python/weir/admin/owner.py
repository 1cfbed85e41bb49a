"""`/v1/account...`: a key owner, with a management key, on its own account only. Every key id, record and entry
is looked up within the caller's account, so another account's is "not found", never shown."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from weir.admin import schemas
from weir.admin.auth import owner
from weir.admin.http import PAGE_PARAMS, endpoint, json_response, list_json, page_args, query, read_json
from weir.admin.usage import LIST_PARAMS, SUMMARY_PARAMS, usage_list, usage_summary
from weir.pipeline.authenticate import Authenticator
from weir.service import Service, views


class Owner:
    def __init__(self, service: Callable[[], Service], auth: Callable[[], Authenticator]) -> None:
        self._service = service
        self._auth = auth

    @property
    def service(self) -> Service:
        return self._service()

    async def _account_id(self, request: Request) -> int:
        return (await owner(request, self._auth)).account_id

    @endpoint
    async def account(self, request: Request) -> Response:
        account_id = await self._account_id(request)
        query(request, ())
        account = views.account_json(await self.service.accounts.get_by_id(account_id))
        return json_response({**account, "default_tier": self.service.config.auth.default_tier})

    @endpoint
    async def keys(self, request: Request) -> Response:
        account_id = await self._account_id(request)
        limit, cursor = page_args(query(request, PAGE_PARAMS))
        return json_response(list_json(await self.service.keys.page(account_id, limit, cursor), views.key_json))

    @endpoint
    async def create_key(self, request: Request) -> Response:
        account_id = await self._account_id(request)
        query(request, ())
        body = await read_json(request, schemas.CreateKey)
        made = await self.service.keys.create(account_id, body.kind, body.name, body.changes(), owner=True)
        return json_response({**views.key_json(made.key), "key": made.plaintext}, status=201)

    @endpoint
    async def update_key(self, request: Request) -> Response:
        account_id = await self._account_id(request)
        query(request, ())
        body = await read_json(request, schemas.UpdateKey)
        changes = body.changes(name=body.name)
        key = await self.service.keys.update(request.path_params["key_id"], changes, account_id, owner=True)
        return json_response(views.key_json(key))

    @endpoint
    async def revoke_key(self, request: Request) -> Response:
        account_id = await self._account_id(request)
        query(request, ())
        return json_response(views.key_json(await self.service.keys.revoke(request.path_params["key_id"], account_id)))

    @endpoint
    async def usage(self, request: Request) -> Response:
        account_id = await self._account_id(request)
        return await usage_list(self.service, account_id, query(request, LIST_PARAMS))

    @endpoint
    async def usage_summary(self, request: Request) -> Response:
        account_id = await self._account_id(request)
        return await usage_summary(self.service, account_id, query(request, SUMMARY_PARAMS), ("day", "model", "key"))

    @endpoint
    async def generation(self, request: Request) -> Response:
        account_id = await self._account_id(request)
        query(request, ())
        record = await self.service.usage.generation(account_id, request.path_params["request_id"])
        return json_response(views.usage_json(record))

    @endpoint
    async def ledger(self, request: Request) -> Response:
        account_id = await self._account_id(request)
        limit, cursor = page_args(query(request, PAGE_PARAMS))
        page = await self.service.accounts.ledger(account_id, limit, cursor)
        return json_response(list_json(page, views.ledger_json))
