"""The Gemini API: POST /v1beta/models/{model}:{method} and the same under /v1 (google-genai, Gemini CLI).

Methods: `generateContent`, `streamGenerateContent` (SSE only: `?alt=sse`, which every Google SDK sends) and
`countTokens`. The body names neither the model nor streaming; both come from the path. The key comes from
`x-goog-api-key` or `?key=` (or any header Weir reads keys from). A Gemini upstream gets the body unchanged, its
key in `x-goog-api-key` (dialects/gemini/passthrough.py); any other upstream gets the call through the canonical
form. A translated stream's last chunk carries Weir's cost in `usageMetadata`.
"""

from __future__ import annotations

from urllib.parse import unquote

import orjson
from starlette.types import Receive, Scope, Send

from weir.canonical.request import Request
from weir.dialects.gemini import request as gemini_request
from weir.dialects.registry import GEMINI
from weir.errors import InvalidRequest, NotFound
from weir.gateway import Gateway
from weir.http.asgi import Headers, session_id
from weir.http.count_tokens import CountEndpoint
from weir.http.ingress import Ingress
from weir.pipeline.attempt import Leg, Outgoing
from weir.pipeline.authenticate import Principal
from weir.pipeline.inbound import Parsed
from weir.pipeline.relay.count import LocalCountLeg, UpstreamCountLeg, local_count
from weir.pipeline.route import Route
from weir.upstreams.health import Key

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


class Gemini(Ingress):
    dialect = GEMINI
    route = "gemini"

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(gateway)
        self.count_tokens = CountTokens(gateway)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The path is split once, in parse(); an unknown method is refused there like any other bad request.
        if scope["path"].endswith(":countTokens"):
            await self.count_tokens(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    def parse(self, raw: bytes, scope: Scope, found: Headers) -> Parsed:
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
        return Parsed(raw=raw, payload=payload, model=model, stream=stream, wants_usage=True, session=session_id(found))

    def to_canonical(self, parsed: Parsed) -> Request:
        return gemini_request.to_canonical(parsed.raw, model=parsed.model, stream=parsed.stream)


class CountTokens(CountEndpoint):
    """`:countTokens`: asked of a Gemini upstream, counted locally with the model's encoding for any other.
    Free: nothing is charged or recorded (see http/count_tokens.py for the bounds)."""

    dialect = GEMINI
    route = "gemini_count_tokens"

    async def count(
        self, scope: Scope, found: Headers, raw: bytes, principal: Principal, rid: str, receive: Receive, send: Send
    ) -> None:
        gw = self.gateway
        name, _ = split_path(scope["path"])
        call, routes, key = gw.exchange.begin(principal, name, rid, False)
        headers = [(b"content-type", b"application/json; charset=UTF-8"), (b"x-weir-request-id", rid.encode())]

        def count_here() -> bytes:
            try:
                payload = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InvalidRequest(f"The request body is not valid JSON: {exc}") from exc
            if isinstance(payload, dict) and isinstance(payload.get("generateContentRequest"), dict):
                payload = payload["generateContentRequest"]  # the request form that names its own model and config
            request = gemini_request.to_canonical(orjson.dumps(payload), model=name)
            return orjson.dumps({"totalTokens": local_count(request, call.model.token_encoding)})

        def leg_for(route: Route, key: Key) -> Leg:
            upstream = route.upstream
            if upstream.wire is not GEMINI:
                return LocalCountLeg(count_here, headers, len(raw))
            url = route.unary_url.rpartition(":")[0] + ":countTokens"
            return UpstreamCountLeg(Outgoing(url, raw, upstream.headers(rid, key)), headers)

        await gw.exchange.run(call, routes, leg_for, receive, send, preferred_key=key, record=False)
