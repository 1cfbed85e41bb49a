"""POST /v1/messages/count_tokens: how many input tokens a Messages request would use. Claude Code asks before
every turn, so it must be fast: Anthropic upstreams are asked (they know their own tokenizer); for any other
upstream Weir counts locally with the model's BPE encoding. Free: nothing is charged or recorded."""

from __future__ import annotations

import orjson
from starlette.types import Receive, Scope, Send

from weir._native import count_tokens_many
from weir.canonical.content import Content, Image, Opaque, Text, Thinking, ToolResult, ToolUse
from weir.canonical.request import Request
from weir.dialects.anthropic_messages import request as anthropic_request
from weir.dialects.registry import ANTHROPIC_MESSAGES
from weir.errors import GatewayError, InvalidRequest
from weir.gateway import Gateway
from weir.http.asgi import ClientGone, header, read_body, request_id, send_whole
from weir.pipeline.authenticate import extract_key
from weir.pipeline.forward import classify, open_upstream
from weir.upstreams.provider import COUNT_TOKENS_PATHS
from weir.upstreams.transport import TRANSPORT_ERRORS

PER_MESSAGE = 3  # role and framing tokens per message, as chat formats add
IMAGE_TOKENS = 1_600  # a typical image; exact counts need the provider's own endpoint


def local_count(req: Request, encoding: str) -> int:
    texts: list[str] = [t.text for t in req.system]
    for tool in req.tools:
        texts.append(tool.name)
        texts.append(tool.description or "")
        if tool.input_schema is not None:
            texts.append(bytes(tool.input_schema).decode())
    fixed = 0
    for message in req.messages:
        fixed += PER_MESSAGE
        for block in message.content:
            fixed += _collect(block, texts)
    counted: int = count_tokens_many(texts, encoding)
    return fixed + counted


def _collect(block: Content, texts: list[str]) -> int:
    """Append a block's countable text; return the tokens it costs beyond that text."""
    if isinstance(block, Text):
        texts.append(block.text)
    elif isinstance(block, Thinking):
        texts.append(block.text)
    elif isinstance(block, ToolUse):
        texts.append(block.name)
        texts.append(bytes(block.input).decode())
    elif isinstance(block, ToolResult):
        return sum(_collect(part, texts) for part in block.content)
    elif isinstance(block, Image):
        return IMAGE_TOKENS
    elif isinstance(block, Opaque):
        texts.append(bytes(block.raw).decode())
    return 0


class CountTokens:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id()
        dialect = ANTHROPIC_MESSAGES
        try:
            status, body = await self._count(scope, receive, rid)
        except GatewayError as err:
            await send_whole(send, err.status, dialect.render(err, rid), dialect.headers(err, rid))
            return
        except ClientGone:
            return
        rid_bytes = rid.encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"request-id", rid_bytes),
            (b"x-weir-request-id", rid_bytes),
        ]
        await send_whole(send, status, body, headers)

    async def _count(self, scope: Scope, receive: Receive, rid: str) -> tuple[int, bytes]:
        gw = self.gateway
        presented = extract_key(scope["headers"], scope.get("query_string", b""), gw.extra_key_headers)
        await gw.auth.authenticate(presented, "inference")  # first: no reading bodies for strangers
        server = gw.config.server
        raw = await read_body(scope, receive, server.max_body_bytes, server.body_read_timeout_seconds)
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("model"), str):
            raise InvalidRequest("'model' is required and must be a string.", param="model")
        model = gw.models.resolve(payload["model"])
        target = model.routes[0]
        upstream = target.upstream
        if upstream.dialect in COUNT_TOKENS_PATHS:
            payload["model"] = target.upstream_model
            client = (header(scope, b"anthropic-version"), header(scope, b"anthropic-beta"))
            url = upstream.url(COUNT_TOKENS_PATHS[upstream.dialect])
            response = await open_upstream(upstream, url, orjson.dumps(payload), upstream.headers(rid, client))
            try:
                return response.status, await response.read()
            except TRANSPORT_ERRORS as exc:
                raise classify(exc, upstream.name) from exc
            finally:
                response.release()
        payload.setdefault("max_tokens", 1)  # count_tokens bodies have none; the converter wants one
        request = anthropic_request.to_canonical(orjson.dumps(payload))
        return 200, orjson.dumps({"input_tokens": local_count(request, model.token_encoding)})
