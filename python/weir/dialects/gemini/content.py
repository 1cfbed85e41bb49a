"""Parts <-> canonical blocks, shared by requests, responses and streams: tool call ids and thought signatures.

Tool call ids. Gemini matches a functionResponse to its functionCall by name and order, and the Gemini API refuses
an `id` in either inside a request (`Unknown name "id" at 'contents[3].parts[1].function_call'`). So:
- reading, a part's own `id` is used when it has one; otherwise `Calls` makes one, deterministically: the k-th
  functionCall of a request is `call_{k}_{name}`, and a functionResponse takes the id of the oldest unanswered
  call of the same name in the latest model turn. The same history always gets the same ids (so an upstream's
  prompt cache still matches), and they stay unique and at most 40 characters (OpenAI's limit). Calls read from
  a response are scoped by its responseId (`call_{responseId}_{k}_{name}`), so ids stay unique across turns
  (Anthropic refuses duplicates);
- writing to a Gemini upstream, ids are left out and each functionResponse is named after the ToolUse whose id
  its ToolResult answers. Gemini clients do get the id (google-genai sends it back, and we read it).

Thought signatures stay on the block of the part that carried them (`Text.signature`, `ToolUse.signature`,
`Thinking.signature` with origin gemini) and are written only in this dialect. Gemini 3 refuses a model turn whose
first functionCall has no signature; a call that came from elsewhere gets Google's documented placeholder
`skip_thought_signature_validator` (`SKIP_SIGNATURE`) instead.
"""

from __future__ import annotations

import mimetypes

import msgspec
from msgspec import UNSET, Raw

from weir.canonical.content import Content, Image, Opaque, Text, Thinking, ToolResult, ToolUse
from weir.dialects.gemini import schema as s
from weir.errors import InvalidRequest

SKIP_SIGNATURE = "skip_thought_signature_validator"
EMPTY_OBJECT = Raw(b"{}")
MAX_ID = 40
_MAGIC = {"iVBORw0KGgo": "image/png", "/9j/": "image/jpeg", "R0lGOD": "image/gif", "UklGR": "image/webp"}


class Calls:
    """The ids of the functionCall parts read so far, and which of the latest model turn are still unanswered."""

    def __init__(self, scope: str = "") -> None:
        self.scope = scope[:16]  # 16 characters of a responseId: unique enough, and room for the name
        self.count = 0
        self.pending: list[tuple[str, str]] = []  # (name, id) of the latest model turn's unanswered calls

    def new_turn(self) -> None:
        self.pending.clear()

    def call(self, name: str, given: str | None) -> str:
        call_id = given or self._next(name)
        self.pending.append((name, call_id))
        return call_id

    def answer(self, name: str, given: str | None) -> str:
        for i, (pending_name, call_id) in enumerate(self.pending):
            if (given and call_id == given) or (not given and pending_name == name):
                del self.pending[i]
                return call_id
        return given or self._next(name)  # a response to no call we saw: its own id

    def _next(self, name: str) -> str:
        k = self.count
        self.count += 1
        return (f"call_{self.scope}_{k}_{name}" if self.scope else f"call_{k}_{name}")[:MAX_ID]


# ---- wire -> canonical ----


def signature_of(part: s.Part) -> str | None:
    return s.pick(part.thought_signature, part.thought_signature_) or None


def part_to_canonical(raw: Raw, where: str, calls: Calls) -> Content | None:
    """The block a part stands for; None for an empty text part (Gemini sends them at the end of streams)."""
    try:
        part = s.decode_part(raw)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"{where}: {exc}", param=where) from None
    signature = signature_of(part)
    call = s.pick(part.function_call, part.function_call_)
    if call is not None:
        args = s.pick(call.args, UNSET)
        return ToolUse(
            id=calls.call(call.name, call.id),
            name=call.name,
            input=EMPTY_OBJECT if args is None or args == s.NULL else args,
            signature=signature,
        )
    response = s.pick(part.function_response, part.function_response_)
    if response is not None:
        return _tool_result(response, calls.answer(response.name, response.id), where)
    if part.text is not None:
        if part.thought:
            return Thinking(text=part.text, signature=signature, origin=s.DIALECT)
        return Text(text=part.text, signature=signature) if part.text or signature else None
    if part.thought and signature:
        return Thinking(signature=signature, origin=s.DIALECT)
    return _media(part) or Opaque(dialect=s.DIALECT, raw=raw)


def _media(part: s.Part) -> Image | None:
    """inlineData or fileData holding an image; other media (audio, video, PDF) stay Opaque."""
    blob = s.pick(part.inline_data, part.inline_data_)
    if blob is not None:
        mime = s.pick(blob.mime_type, blob.mime_type_)
        return Image(media_type=mime, data=blob.data) if mime and mime.startswith("image/") else None
    file = s.pick(part.file_data, part.file_data_)
    if file is not None:
        uri = s.pick(file.file_uri, file.file_uri_)
        mime = s.pick(file.mime_type, file.mime_type_) or (guess_type(uri) if uri else None)
        return Image(media_type=mime, url=uri) if uri and mime and mime.startswith("image/") else None
    return None


def _tool_result(response: s.FunctionResponse, tool_use_id: str, where: str) -> ToolResult:
    """The response object as text; `{"output": "..."}` and `{"error": "..."}` (Gemini's own convention, and
    what `function_response_part` writes) as their text alone."""
    content: list[Text | Image | Opaque] = []
    is_error = False
    raw = s.pick(response.response, UNSET)
    if raw is not None and raw != s.NULL:
        value = s.decode_any(raw)
        if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("output", value.get("error")), str):
            is_error = "error" in value
            content.append(Text(text=value["error" if is_error else "output"]))
        else:
            is_error = isinstance(value, dict) and "error" in value and "output" not in value
            content.append(Text(text=bytes(raw).decode()))
    for i, part_raw in enumerate(response.parts or ()):
        block = part_to_canonical(part_raw, f"{where}.functionResponse.parts[{i}]", Calls())
        if isinstance(block, Text | Image | Opaque):
            content.append(block)
    return ToolResult(tool_use_id=tool_use_id, content=content, is_error=is_error)


def guess_type(url: str) -> str | None:
    return mimetypes.guess_type(url.partition("?")[0])[0]


# ---- canonical -> wire ----


def part_from_canonical(block: Content, dropped: list[str], *, client: bool) -> s.PartOut | Raw | None:
    """The part for `block`, or None (and a note in `dropped`) when Gemini cannot carry it. `client`: the part goes
    to a Gemini client (a response), not to a Gemini upstream: thinking of other origins is shown, ids are kept."""
    if isinstance(block, Text):
        if not block.text and not block.signature:
            return None
        return s.PartOut(text=block.text, thought_signature=block.signature or UNSET)
    if isinstance(block, ToolUse):
        call = s.FunctionCallOut(name=block.name, args=tool_args(block, dropped), id=block.id if client else UNSET)
        return s.PartOut(function_call=call, thought_signature=block.signature or UNSET)
    if isinstance(block, Thinking):
        ours = block.origin == s.DIALECT
        if ours and block.signature:
            return s.PartOut(text=block.text, thought=True, thought_signature=block.signature)
        if client and block.text:
            return s.PartOut(text=block.text, thought=True)  # another provider's signature never goes out
        dropped.append("thinking")
        return None
    if isinstance(block, Image):
        return image_part(block, dropped)
    if isinstance(block, Opaque) and block.dialect == s.DIALECT:
        return block.raw
    dropped.append(f"{block.dialect} content" if isinstance(block, Opaque) else "tool_result")
    return None


def tool_args(block: ToolUse, dropped: list[str]) -> Raw:
    """functionCall.args must be an object; a custom tool's freeform text becomes {"input": text}."""
    try:
        value = s.decode_any(block.input)
    except msgspec.DecodeError:
        value = None
    if isinstance(value, dict):
        return block.input
    if isinstance(value, str) and block.kind == "custom":
        return s.raw_of({"input": value})
    dropped.append("tool_use.input")
    return EMPTY_OBJECT


def image_part(block: Image, dropped: list[str]) -> s.PartOut | None:
    data, mime = block.data, block.media_type
    if data is None and block.url is not None and block.url.startswith("data:"):
        header, _, data = block.url[5:].partition(",")  # data:image/png;base64,....
        mime = mime or header.partition(";")[0] or None
    if data is not None:
        mime = mime or next((m for magic, m in _MAGIC.items() if data.startswith(magic)), "image/jpeg")
        return s.PartOut(inline_data=s.BlobOut(mime_type=mime, data=data))
    if block.url is not None:
        mime = mime or guess_type(block.url) or "image/jpeg"
        return s.PartOut(file_data=s.FileDataOut(mime_type=mime, file_uri=block.url))
    dropped.append("image (no data)")
    return None


def function_response_parts(result: ToolResult, name: str, dropped: list[str]) -> list[s.PartOut | Raw]:
    """A functionResponse part, then the result's images as parts of their own.

    The text becomes the response object: a JSON object as it is, other text as {"output": text} (or {"error":
    text} for a failed call), the keys the Gemini API documents for a function's output."""
    texts: list[str] = []
    extra: list[s.PartOut | Raw] = []
    for block in result.content:
        if isinstance(block, Text):
            texts.append(block.text)
            continue
        part = part_from_canonical(block, dropped, client=False)
        if part is not None:
            extra.append(part)
    text = "\n".join(texts)
    response: Raw | None = None
    if text.lstrip().startswith("{"):
        try:
            s.decode_object(text.encode())
            response = Raw(text.encode())
        except msgspec.DecodeError:
            pass
    if response is None:
        response = s.raw_of({"error" if result.is_error else "output": text})
    part = s.PartOut(function_response=s.FunctionResponseOut(name=name, response=response))
    return [part, *extra]
