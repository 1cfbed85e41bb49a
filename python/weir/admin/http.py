"""What every management endpoint shares: JSON in (bounded, strict msgspec schemas) and out, query parameters,
pages, and errors in the OpenAI shape, whatever raised them (a GatewayError, a ServiceError, a StoreError)."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ParamSpec, TypeVar

import msgspec
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from weir.dialects.openai_chat import errors as openai_errors
from weir.errors import GatewayError, InvalidRequest, NotFound, PayloadTooLarge, ServiceUnavailable
from weir.http.asgi import request_id
from weir.service import errors as service_errors
from weir.store.base import StoreError
from weir.store.queries import decode_cursor, encode_cursor
from weir.store.records import Page

T = TypeVar("T")
P = ParamSpec("P")
S = TypeVar("S", bound=msgspec.Struct)
JSON = "application/json"
MAX_BODY_BYTES = 64 * 1024
PAGE_PARAMS = ("limit", "cursor")
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$\.?(?P<where>[^`]*)`)?$", re.S)


class Conflict(GatewayError):
    status = 409
    type = "invalid_request_error"
    code = "conflict"


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type=JSON, headers=headers)


def error_response(err: GatewayError) -> Response:
    headers = dict((k.decode(), v.decode()) for k, v in openai_errors.headers(err, request_id()))
    return Response(openai_errors.render(err), status_code=err.status, headers=headers)


def as_gateway_error(exc: Exception) -> GatewayError:
    """A service or store failure as the error its status and code say."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, service_errors.NotFound):
        return NotFound(exc.message, param=exc.param, code=exc.code)
    if isinstance(exc, service_errors.Conflict):
        return Conflict(exc.message, param=exc.param, code=exc.code)
    if isinstance(exc, service_errors.ServiceError):
        return InvalidRequest(exc.message, param=exc.param, code=exc.code)
    if isinstance(exc, StoreError):
        return ServiceUnavailable("The database is unavailable; try again shortly.")
    raise exc


def endpoint(handler: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
    """Render what the handler raises (a gateway, service or store error) as an OpenAI error."""

    @functools.wraps(handler)
    async def run(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return await handler(*args, **kwargs)
        except (GatewayError, service_errors.ServiceError, StoreError) as exc:
            return error_response(as_gateway_error(exc))

    return run


async def read_json(request: Request, schema: type[S]) -> S:
    """The body decoded as `schema` (unknown fields refused); an empty body is `{}`."""
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise PayloadTooLarge(f"The request body is over {MAX_BODY_BYTES} bytes.")
    except ClientDisconnect:
        raise InvalidRequest("The client went away before its request body arrived.") from None
    try:
        return msgspec.json.decode(bytes(body) or b"{}", type=schema)
    except msgspec.ValidationError as exc:
        message, param = _plain(str(exc), schema)
        raise InvalidRequest(message, param=param) from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}.") from None


def _plain(message: str, schema: type[msgspec.Struct]) -> tuple[str, str | None]:
    """msgspec's `Expected `int`, got `str` - at `$.amount`` as (`amount: expected int, got str`, `amount`)."""
    match = _AT.match(message)
    assert match is not None
    msg, where = match.group("msg"), match.group("where") or None
    prefix = f"{where}: " if where else ""
    if msg.startswith("Object contains unknown field "):
        field = msg.removeprefix("Object contains unknown field ").strip("`")
        fields = ", ".join(schema.__struct_fields__) if where is None else "see the README"
        return f"{prefix}unknown field '{field}'; the fields are: {fields}", field
    if msg.startswith("Object missing required field "):
        field = msg.removeprefix("Object missing required field ").strip("`")
        return f"{prefix}'{field}' is required", field
    if msg.startswith("Expected `object`") and where is None:
        return "the body must be a JSON object", None
    msg = msg.replace("`", "")
    return f"{prefix}{msg[:1].lower()}{msg[1:]}", where


def query(request: Request, accepted: Sequence[str]) -> dict[str, str]:
    """The query parameters, each at most once; one that is not in `accepted` is refused (a typo is not ignored)."""
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in accepted:
            raise InvalidRequest(
                f"Unknown query parameter '{name}'; this endpoint takes: {', '.join(accepted)}.", param=name
            )
        if name in found:
            raise InvalidRequest(f"The query parameter '{name}' is given twice.", param=name)
        found[name] = value
    return found


def integer(params: dict[str, str], name: str, default: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidRequest(f"'{name}' must be a whole number, got {value[:40]!r}.", param=name) from None


def page_args(params: dict[str, str]) -> tuple[int, str | None]:
    """`limit` (default 50, at most 200: the service checks) and `cursor`."""
    return integer(params, "limit", service_errors.PAGE_DEFAULT), params.get("cursor") or None


def list_json(page: Page[T], view: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [view(item) for item in page.items],
        "has_more": page.next_cursor is not None,
        "next_cursor": page.next_cursor,
    }


def in_pages(items: Sequence[T], kind: str, limit: int, cursor: str | None) -> Page[T]:
    """A page of a list held in memory (the configured models and providers), with the same cursors."""
    service_errors.check_limit(limit)
    start = 0
    if cursor is not None:
        try:
            (start,) = decode_cursor(kind, cursor, (int,))
        except ValueError as exc:
            raise InvalidRequest(str(exc).removeprefix("cursor: "), param="cursor") from None
    end = start + limit
    return Page(items=list(items[start:end]), next_cursor=encode_cursor(kind, (end,)) if end < len(items) else None)
