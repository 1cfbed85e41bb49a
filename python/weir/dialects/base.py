"""What every dialect package provides, and the translation rules they share.

A dialect package (`dialects/<name>/`) has the same five modules:

- `schema.py`   wire Structs (tolerant readers: unknown fields allowed) and module-level decoders/encoders;
- `request.py`  `to_canonical(body: bytes) -> Request` (raises InvalidRequest naming the field) and
                `from_canonical(req: Request, target: Target) -> Egress` (the upstream body);
- `response.py` `to_canonical(body: bytes) -> Response` and `from_canonical(resp: Response, reply: Reply) -> bytes`;
- `stream.py`   `ToCanonical` (upstream SSE events -> canonical events) and `FromCanonical` (canonical events ->
                client SSE bytes), both objects with `feed()` and `finish()`;
- `errors.py`   `render(err)`, `headers(err, request_id)`, `stream_error(err)` and
                `from_upstream(status, body) -> GatewayError` (an upstream error body of this dialect);
- `passthrough.py` `SPEC`, a `Passthrough`: what a same-dialect call changes in the body, which Rust tap reads
                its stream and its unary usage, and how the held-back usage event carries the cost.

Rules every converter follows (tests/dialects/test_matrix.py checks them pairwise):

- System prompts: every system/developer message or system block becomes `Request.system`, in order.
  Claude Code's per-request `x-anthropic-billing-header:` system line is dropped when the target dialect is not
  Anthropic (it changes every request and would defeat prompt caching upstream).
- Tool ids: `tool_ids.sanitize` is applied to every tool_use id and every tool_result tool_use_id on the way
  to a dialect that restricts them, identically on both sides, so pairs still match.
- Tool results: all tool_result blocks of a turn live in one canonical user message, in order; dialects that
  use one message per result (OpenAI `tool` messages) split and join them, keeping the order and ids.
- Thinking: kept with `origin` = the dialect that produced it; sent to an upstream only when the upstream is of
  that dialect and the block is signed; otherwise dropped (the target could not verify it).
- `max_tokens`: Anthropic requires it; `Target.default_max_tokens` (per model, from config) fills it when the
  client sent none.
- Unknown top-level fields go to `Request.extras` and are sent on only to the same dialect; unknown content
  becomes `Opaque`. What a translation cannot carry is listed in `Egress.dropped`, which the gateway reports in
  the `x-weir-dropped` response header: never silently.
- Usage is canonical (`canonical/usage.py`): input counts cached and cache-write tokens, output counts reasoning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import msgspec

from weir.canonical.usage import Usage
from weir.errors import InvalidRequest

UsageTuple = tuple[int, int, int, int, int]


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """What a request converter needs to know about where the request goes."""

    model: str  # the upstream's model name
    default_max_tokens: int = 4096
    stream: bool = False


class Egress(msgspec.Struct, frozen=True, kw_only=True):
    body: bytes
    dropped: tuple[str, ...] = ()  # fields or content the target dialect cannot carry (reported, not silent)


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """What a response converter needs to know about the call it answers."""

    model: str  # the model name the client asked for
    cost_microcents: int | None = None


class Passthrough(msgspec.Struct, frozen=True, kw_only=True):
    """A same-dialect call: the body goes upstream as the client sent it but for what the gateway must set, and
    the answer comes back byte for byte while the Rust tap reads its usage."""

    tap: str  # the StreamTap dialect that reads this dialect's streams
    usage_of: Callable[[bytes], UsageTuple | None]  # a unary answer's usage (Rust), None when it has none
    # (the client's decoded top-level body, its raw bytes, the upstream's model name, the model's default
    # max_tokens, stream) -> the upstream body
    body: Callable[[dict[str, Any], bytes, str, int, bool], bytes]
    # (the withheld usage event's data, the call's cost, whether the client asked for usage) -> what to send in
    # its place
    usage_event: Callable[[bytes, int, bool], bytes]
    anthropic_headers: bool = False  # forward the client's anthropic-version and anthropic-beta
    # A rewriter of the answer's own id (Responses: Weir's ids, which never collide), made per call; None: none.
    ids: Callable[[], IdRewriter] | None = None
    # The output text one decoded stream event carries (text, reasoning, tool-call arguments), for the dialects
    # whose streams report the output's usage only at their end: what a client that left early was sent is counted
    # from it. None: the stream reports usage as it goes (Gemini).
    streamed_text: Callable[[Any], Iterator[str]] | None = None
    # How a stream stopped at its price cap ends, in this dialect, with its length stop reason: (the first and the
    # last event sent, the usage billed, its cost, whether the client asked for usage, the content block left open)
    # -> bytes. None: this dialect's streams are not stopped at the cap (only admission checks it).
    capped_end: Callable[[Any, Any, Usage, int, bool, int | None], bytes] | None = None


class IdRewriter(Protocol):
    def unary(self, body: bytes) -> bytes: ...
    def stream(self, out: bytes) -> bytes: ...
    def apply(self, data: bytes) -> bytes: ...
    def flush(self, out: bytes) -> bytes: ...


_decode_object = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode


def is_json_object(text: str) -> bool:
    """Whether `text` is a JSON object (tool-call arguments often are not)."""
    try:
        _decode_object(text)
    except msgspec.DecodeError:
        return False
    return True


def invalid(exc: msgspec.ValidationError, where: str = "") -> InvalidRequest:
    """msgspec's "<problem> - at `$.a[0].b`" as InvalidRequest(param="a[0].b"), `where` prefixed."""
    problem, sep, path = str(exc).partition(" - at `$")
    param = where + path.rstrip("`") if sep else where
    if problem.startswith("Object missing required field `"):
        param += "." + problem.split("`")[1]
    param = param.lstrip(".")
    return InvalidRequest(f"{param}: {problem}" if param else problem, param=param or None)
