"""The Gemini API: POST /v1beta/models/{model}:{method} and the same under /v1 (google-genai, Gemini CLI).

Methods: `generateContent`, `streamGenerateContent` (SSE only: `?alt=sse`, which every Google SDK sends) and
`countTokens`. The body names neither the model nor streaming; both come from the path. The key comes from
`x-goog-api-key` or `?key=` (or any header Weir reads keys from). A Gemini upstream gets the body unchanged, its
key in `x-goog-api-key`; any other upstream gets the call through the canonical form. Gemini streams carry usage
in their chunks, so a passed-through stream is forwarded as it arrives, nothing held back: its cost is in the
usage record, not in the stream. A translated stream's last chunk carries Weir's cost in `usageMetadata`.
"""

from __future__ import annotations

from urllib.parse import unquote

import orjson
from starlette.types import Receive, Scope, Send

from weir._native import gemini_usage
from weir.canonical.request import Request
from weir.dialects.gemini import request as gemini_request
from weir.dialects.registry import GEMINI
from weir.errors import GatewayError, InvalidRequest, NotFound
from weir.gateway import Gateway
from weir.http.asgi import ClientGone, read_body, request_id, send_whole
from weir.http.count_tokens import local_count
from weir.http.ingress import Ingress, Parsed
from weir.http.passthrough import Relay
from weir.pipeline.authenticate import extract_key
from weir.pipeline.call import Call
from weir.pipeline.forward import classify, open_upstream
from weir.upstreams.transport import TRANSPORT_ERRORS

PREFIXES = ("/v1beta/models/", "/v1/models/")
GENERATE = ("generateContent", "streamGenerateContent")
METHODS = (*GENERATE, "countTokens")


def split_path(path: str) -> tuple[str, str]:
    """`/v1beta/models/gemini-2.5-pro:streamGenerateContent` -> ("gemini-2.5-pro", "streamGenerateContent")."""
    for prefix in PREFIXES:
        if path.startswith(prefix):
            model, sep, method = unquote(path[len(prefix) :]).rpartition(":")
            if sep and model and method in METHODS:
                return model.removeprefix("models/"), method
            break
    raise NotFound(f"No Gemini method at {path}; expected /v1beta/models/{{model}}:{{{'|'.join(METHODS)}}}.")


def _no_usage_event(data: bytes, cost: int, wants_usage: bool) -> bytes:
    return data  # never called: the gemini tap holds nothing back


class Gemini(Ingress):
    dialect = GEMINI
    route = "gemini"

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(gateway)
        self.relay = Relay(gateway, GEMINI, "gemini", gemini_usage, _no_usage_event)
        self.count_tokens = CountTokens(gateway)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The path is split once, in parse(); an unknown method is refused there like any other bad request.
        if scope["path"].endswith(":countTokens"):
            await self.count_tokens(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    def parse(self, raw: bytes, scope: Scope) -> Parsed:
        model, method = split_path(scope["path"])
        if method not in GENERATE:
            raise NotFound(f"No Gemini method {method!r} here.")
        stream = method == "streamGenerateContent"
        if stream and b"alt=sse" not in scope.get("query_string", b"").split(b"&"):
            raise InvalidRequest("streamGenerateContent is served as server-sent events only: add ?alt=sse.")
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        contents = payload.get("contents")
        if not isinstance(contents, list) or not contents:
            raise InvalidRequest("contents: at least one content is required.", param="contents")
        return Parsed(raw=raw, payload=payload, model=model, stream=stream, wants_usage=True)

    def to_canonical(self, parsed: Parsed) -> Request:
        return gemini_request.to_canonical(parsed.raw, model=parsed.model, stream=parsed.stream)

    async def passthrough(self, call: Call, parsed: Parsed, scope: Scope, receive: Receive, send: Send) -> None:
        headers = call.target.upstream.headers(call.request_id)
        if call.stream:
            await self.relay.stream(call, parsed.raw, headers, True, receive, send)
        else:
            await self.relay.unary(call, parsed.raw, headers, send)


class CountTokens:
    """`:countTokens`: asked of a Gemini upstream, counted locally with the model's encoding for any other.
    Free: nothing is charged or recorded."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id()
        try:
            status, body = await self._count(scope, receive, rid)
        except GatewayError as err:
            await send_whole(send, err.status, GEMINI.render(err, rid), GEMINI.headers(err, rid))
            return
        except ClientGone:
            return
        headers = [(b"content-type", b"application/json; charset=UTF-8"), (b"x-weir-request-id", rid.encode())]
        await send_whole(send, status, body, headers)

    async def _count(self, scope: Scope, receive: Receive, rid: str) -> tuple[int, bytes]:
        gw = self.gateway
        presented = extract_key(scope["headers"], scope.get("query_string", b""), gw.extra_key_headers)
        await gw.auth.authenticate(presented, "inference")  # first: no reading bodies for strangers
        server = gw.config.server
        raw = await read_body(scope, receive, server.max_body_bytes, server.body_read_timeout_seconds)
        name, _ = split_path(scope["path"])
        model = gw.models.resolve(name)
        target = model.routes[0]
        upstream = target.upstream
        if upstream.wire is GEMINI:
            url = target.unary_url.rpartition(":")[0] + ":countTokens"
            response = await open_upstream(upstream, url, raw, upstream.headers(rid))
            try:
                return response.status, await response.read()
            except TRANSPORT_ERRORS as exc:
                raise classify(exc, upstream.name) from exc
            finally:
                response.release()
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"The request body is not valid JSON: {exc}") from exc
        if isinstance(payload, dict) and isinstance(payload.get("generateContentRequest"), dict):
            payload = payload["generateContentRequest"]  # the request form that names its own model and config
        request = gemini_request.to_canonical(orjson.dumps(payload), model=name)
        return 200, orjson.dumps({"totalTokens": local_count(request, model.token_encoding)})
