"""What a media call is billed for, read from the upstream's answer (or, for speech, from the request).

Pure functions over bytes: an answer that cannot be read bills nothing rather than failing a call the client
already has. Token usage, where an endpoint reports it, is priced like a model call's.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

import orjson

from weir.billing.meter import NO_UNITS, ZERO, Units, Usage


def _object(answer: bytes) -> dict[str, Any]:
    try:
        decoded = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def seconds_to_ms(value: Any) -> int | None:
    """A duration in seconds (int, float or numeric string) as whole milliseconds, rounded up; None if not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = Decimal(str(value))
    except InvalidOperation:
        return None
    if not seconds.is_finite() or seconds < 0:
        return None
    return int((seconds * 1000).to_integral_value(rounding=ROUND_CEILING))


def embeddings_usage(answer: bytes) -> Usage:
    """`usage.prompt_tokens`, priced at the model's input price."""
    usage = _object(answer).get("usage")
    if not isinstance(usage, dict):
        return ZERO
    return Usage(input=_count(usage.get("prompt_tokens")))


def token_usage(usage: Any) -> Usage:
    """The Responses-style usage of images and gpt-4o-transcribe: input_tokens / output_tokens."""
    if not isinstance(usage, dict):
        return ZERO
    return Usage(input=_count(usage.get("input_tokens")), output=_count(usage.get("output_tokens")))


def image_usage(answer: bytes) -> tuple[Usage, Units]:
    """One unit per item of `data` (whatever its form: b64_json or url), plus token usage when reported."""
    body = _object(answer)
    data = body.get("data")
    images = len(data) if isinstance(data, list) else 0
    return token_usage(body.get("usage")), Units(images=images) if images else NO_UNITS


def transcription_usage(body: dict[str, Any]) -> tuple[Usage, int | None]:
    """(token usage, milliseconds of audio or None when the answer does not say). `usage` may be
    {"type": "duration", "seconds": s} (whisper-1) or {"type": "tokens", ...} (gpt-4o-transcribe);
    verbose_json also carries a top-level `duration`."""
    usage = body.get("usage")
    if isinstance(usage, dict):
        if usage.get("type") == "duration":
            ms = seconds_to_ms(usage.get("seconds"))
            if ms is not None:
                return ZERO, ms
        elif "input_tokens" in usage or "output_tokens" in usage:
            return token_usage(usage), seconds_to_ms(body.get("duration"))
    return ZERO, seconds_to_ms(body.get("duration"))


def last_event_with_usage(stream: bytes) -> dict[str, Any]:
    """The last `data:` event of an SSE body that carries `usage` (a streamed transcription's
    `transcript.text.done`), or {}."""
    for line in reversed(stream.splitlines()):
        if line.startswith(b"data:") and b'"usage"' in line:
            event = _object(line[5:].strip())
            if isinstance(event.get("usage"), dict):
                return event
    return {}
