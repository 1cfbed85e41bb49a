"""The dialects Weir speaks, by name, behind one small interface the pipeline uses for every one of them."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Protocol

from weir.canonical.stream import StreamEvent
from weir.canonical.usage import Usage
from weir.dialects.anthropic_messages import errors as anthropic_errors
from weir.dialects.anthropic_messages import passthrough as anthropic_messages_passthrough
from weir.dialects.anthropic_messages import request as anthropic_request
from weir.dialects.anthropic_messages import response as anthropic_response
from weir.dialects.anthropic_messages import stream as anthropic_stream
from weir.dialects.base import Passthrough
from weir.dialects.gemini import errors as gemini_errors
from weir.dialects.gemini import passthrough as gemini_passthrough
from weir.dialects.gemini import request as gemini_request
from weir.dialects.gemini import response as gemini_response
from weir.dialects.gemini import stream as gemini_stream
from weir.dialects.openai_chat import errors as openai_errors
from weir.dialects.openai_chat import passthrough as openai_chat_passthrough
from weir.dialects.openai_chat import request as openai_request
from weir.dialects.openai_chat import response as openai_response
from weir.dialects.openai_chat import stream as openai_stream
from weir.dialects.openai_responses import errors as responses_errors
from weir.dialects.openai_responses import passthrough as openai_responses_passthrough
from weir.dialects.openai_responses import request as responses_request
from weir.dialects.openai_responses import response as responses_response
from weir.dialects.openai_responses import stream as responses_stream
from weir.errors import GatewayError


class StreamReader(Protocol):
    def feed(self, event: str | None, data: bytes) -> list[StreamEvent]: ...
    def finish(self) -> list[StreamEvent]: ...


class StreamWriter(Protocol):
    def feed(self, ev: StreamEvent) -> bytes: ...
    def finish(self, usage: Usage, cost_microcents: int | None) -> bytes: ...


class Dialect:
    """One wire dialect: its converters and how it renders errors."""

    def __init__(
        self,
        name: str,
        *,
        request: ModuleType,
        response: ModuleType,
        stream: ModuleType,
        render: Callable[[GatewayError, str], bytes],
        headers: Callable[[GatewayError, str], list[tuple[bytes, bytes]]],
        stream_error: Callable[[GatewayError], bytes],
        from_upstream: Callable[[int, bytes], GatewayError],
        writer: Callable[[str, bool], StreamWriter],
        keepalive: bytes,
        passthrough: Passthrough,
    ) -> None:
        self.name = name
        self.request = request
        self.response = response
        self.stream = stream
        self.render = render
        self.headers = headers
        self.stream_error = stream_error
        self.from_upstream = from_upstream
        self.writer = writer  # (client model name, client asked for usage) -> stream writer
        self.keepalive = keepalive  # bytes that keep an idle stream open without changing what clients see
        self.passthrough = passthrough  # how a call goes to an upstream of this same dialect

    def reader(self) -> StreamReader:
        reader: StreamReader = self.stream.ToCanonical()
        return reader


OPENAI_CHAT = Dialect(
    "openai_chat",
    request=openai_request,
    response=openai_response,
    stream=openai_stream,
    render=lambda err, rid: openai_errors.render(err),
    headers=openai_errors.headers,
    stream_error=openai_errors.stream_error,
    from_upstream=openai_errors.from_upstream,
    writer=lambda model, include_usage: openai_stream.FromCanonical(model, include_usage),
    keepalive=b": keep-alive\n\n",
    passthrough=openai_chat_passthrough.SPEC,
)

ANTHROPIC_MESSAGES = Dialect(
    "anthropic_messages",
    request=anthropic_request,
    response=anthropic_response,
    stream=anthropic_stream,
    render=lambda err, rid: anthropic_errors.render(err, rid),
    headers=anthropic_errors.headers,
    stream_error=anthropic_errors.stream_error,
    from_upstream=anthropic_errors.from_upstream,
    writer=lambda model, include_usage: anthropic_stream.FromCanonical(model),
    keepalive=b'event: ping\ndata: {"type": "ping"}\n\n',
    passthrough=anthropic_messages_passthrough.SPEC,
)

OPENAI_RESPONSES = Dialect(
    "openai_responses",
    request=responses_request,
    response=responses_response,
    stream=responses_stream,
    render=lambda err, rid: responses_errors.render(err),
    headers=responses_errors.headers,
    stream_error=responses_errors.stream_error,
    from_upstream=responses_errors.from_upstream,
    writer=lambda model, include_usage: responses_stream.FromCanonical(model),
    keepalive=b": keep-alive\n\n",  # a comment: openai-python and Codex (eventsource_stream) skip it
    passthrough=openai_responses_passthrough.SPEC,
)

GEMINI = Dialect(
    "gemini",
    request=gemini_request,  # to_canonical(body, model=<from the URL>, stream=<streamGenerateContent>)
    response=gemini_response,
    stream=gemini_stream,
    render=lambda err, rid: gemini_errors.render(err),
    headers=gemini_errors.headers,
    stream_error=gemini_errors.stream_error,
    from_upstream=gemini_errors.from_upstream,
    writer=lambda model, include_usage: gemini_stream.FromCanonical(model),
    keepalive=b"",  # google-genai breaks on comments and on any line but `data: `: send nothing
    passthrough=gemini_passthrough.SPEC,
)

DIALECTS = {d.name: d for d in (OPENAI_CHAT, ANTHROPIC_MESSAGES, OPENAI_RESPONSES, GEMINI)}
# A provider's (`dialect`, `wire_api`) in weir.toml -> the wire dialect Weir speaks to it.
PROVIDER_DIALECTS = {
    ("openai", "chat"): OPENAI_CHAT,
    ("openai", "responses"): OPENAI_RESPONSES,
    ("anthropic", "chat"): ANTHROPIC_MESSAGES,
    ("gemini", "chat"): GEMINI,
}
