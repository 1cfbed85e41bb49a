"""generationConfig and toolConfig <-> the canonical sampling, reasoning and tool_choice fields.

What the canonical form cannot say is kept for a Gemini upstream in `Request.extras`, under dotted names so other
dialects report exactly what they drop: `generationConfig.<key>` for each key not modelled (seed,
responseMimeType, responseSchema, candidateCount...), `generationConfig.thinkingConfig` when Reasoning does not
reproduce it (thinkingLevel, includeThoughts false...), `toolConfig.functionCallingConfig` when ToolChoice does not
(VALIDATED, several allowedFunctionNames), and `toolConfig.<key>` for the rest (retrievalConfig). Written back to a
Gemini upstream, a raw thinkingConfig or functionCallingConfig is used only while the canonical field still reads
the same from it: a pipeline stage that changed it wins.

Reasoning: thinkingBudget 0 -> disabled; N > 0 -> budget_tokens; -1 (dynamic) or absent -> no budget; thinkingLevel
-> effort. Written: includeThoughts true and thinkingBudget = budget_tokens or the effort's budget. Disabled
reasoning from another dialect is left out and listed as dropped: Gemini 2.5 Pro and Gemini 3 cannot turn thinking
off and refuse thinkingBudget 0, so the model's default is the safe translation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

import msgspec
from msgspec import Raw

from weir.canonical.request import Reasoning, Request, ToolChoice
from weir.dialects.gemini import schema as s
from weir.errors import InvalidRequest

T = TypeVar("T")
GENERATION = "generationConfig."
TOOL_CONFIG = "toolConfig."
EFFORT_BUDGETS = {"minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 32768, "max": 32768}
MAX_STOP_SEQUENCES = 5  # Gemini refuses more
Mode = Literal["auto", "any", "none"]
_MODES: dict[str, Mode] = {"AUTO": "auto", "ANY": "any", "NONE": "none", "VALIDATED": "auto"}
_WIRE_MODES = {"auto": "AUTO", "any": "ANY", "none": "NONE", "tool": "ANY"}


class Generation(msgspec.Struct, kw_only=True):
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = []
    reasoning: Reasoning | None = None


def decode(raw: Raw, where: str, decoder: Callable[[Raw], T]) -> T:
    try:
        return decoder(raw)
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"{where}: {exc}", param=where) from None


def _number(raw: Raw, where: str) -> float | None:
    value = decode(raw, where, s.decode_number)
    return None if value is None else float(value)


def _normalized(raw: Raw) -> dict[str, object]:
    """An object with camelCase keys, for comparing what a client sent with what we would write."""
    return {s.camel(key): s.decode_any(value) for key, value in s.decode_object(raw).items()}


# ---- generationConfig ----


def generation_to_canonical(raw: Raw | None, extras: dict[str, Raw]) -> Generation:
    out = Generation()
    if raw is None or raw == s.NULL:
        return out
    for key, value in decode(raw, "generationConfig", s.decode_object).items():
        name, where = s.camel(key), GENERATION + key
        if value == s.NULL:
            continue
        if name == "maxOutputTokens":
            number = _number(value, where)
            out.max_tokens = None if number is None else int(number)
        elif name == "temperature":
            out.temperature = _number(value, where)
        elif name == "topP":
            out.top_p = _number(value, where)
        elif name == "topK":  # google-genai sends it as a float (3.0)
            number = _number(value, where)
            out.top_k = None if number is None else int(number)
        elif name == "stopSequences":
            stop = decode(value, where, s.decode_strings)
            out.stop = [stop] if isinstance(stop, str) else stop or []
        elif name == "thinkingConfig":
            out.reasoning = reasoning_of(decode(value, where, s.decode_thinking))
            if thinking_out(out.reasoning, []) != _normalized(value):
                extras[where] = value
        else:
            extras[where] = value
    return out


def generation_from_canonical(req: Request, same: bool, dropped: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    if req.max_tokens is not None:
        out["maxOutputTokens"] = req.max_tokens
    if req.temperature is not None:
        out["temperature"] = req.temperature
    if req.top_p is not None:
        out["topP"] = req.top_p
    if req.top_k is not None:
        out["topK"] = req.top_k
    if req.stop:
        if len(req.stop) > MAX_STOP_SEQUENCES:
            dropped.append("stop")
        out["stopSequences"] = req.stop[:MAX_STOP_SEQUENCES]
    thinking: dict[str, object] | Raw | None = None
    for key, raw in req.extras.items() if same else ():
        if not key.startswith(GENERATION):
            continue
        sub = key[len(GENERATION) :]
        if s.camel(sub) != "thinkingConfig":
            out.setdefault(sub, raw)
        elif reasoning_of(s.decode_thinking(raw)) == req.reasoning:
            thinking = raw  # as the client sent it: thinkingLevel, includeThoughts false...
    if thinking is None:
        thinking = thinking_out(req.reasoning, dropped)
    if thinking is not None:
        out["thinkingConfig"] = thinking
    return out


def reasoning_of(config: s.ThinkingConfig) -> Reasoning | None:
    budget = s.pick(config.thinking_budget, config.thinking_budget_)
    level = s.pick(config.thinking_level, config.thinking_level_)
    if budget is None and level is None and not s.pick(config.include_thoughts, config.include_thoughts_):
        return None  # nothing asked beyond the model's default
    if budget == 0:
        return Reasoning(enabled=False)
    effort = level.lower() if level else None
    return Reasoning(enabled=True, budget_tokens=budget if budget and budget > 0 else None, effort=effort)


def thinking_out(reasoning: Reasoning | None, dropped: list[str]) -> dict[str, object] | None:
    if reasoning is None:
        return None
    if not reasoning.enabled or reasoning.effort == "none":
        dropped.append("reasoning")
        return None
    out: dict[str, object] = {"includeThoughts": True}
    budget = reasoning.budget_tokens or EFFORT_BUDGETS.get(reasoning.effort or "")
    if budget:
        out["thinkingBudget"] = budget
    return out


# ---- toolConfig ----


def tool_choice_to_canonical(raw: Raw | None, extras: dict[str, Raw]) -> ToolChoice | None:
    if raw is None or raw == s.NULL:
        return None
    choice = None
    for key, value in decode(raw, "toolConfig", s.decode_object).items():
        where = TOOL_CONFIG + key
        if s.camel(key) == "functionCallingConfig":
            choice = choice_of(decode(value, where, s.decode_calling))
            if calling_out(choice) != _normalized(value):
                extras[where] = value
        else:
            extras[where] = value
    return choice


def choice_of(config: s.FunctionCallingConfig) -> ToolChoice:
    mode = (config.mode or "AUTO").upper()
    names = s.pick(config.allowed_function_names, config.allowed_function_names_) or []
    if mode == "ANY" and len(names) == 1:
        return ToolChoice(mode="tool", name=names[0])
    return ToolChoice(mode=_MODES.get(mode, "auto"))


def calling_out(choice: ToolChoice) -> dict[str, object]:
    out: dict[str, object] = {"mode": _WIRE_MODES[choice.mode]}
    if choice.mode == "tool" and choice.name is not None:
        out["allowedFunctionNames"] = [choice.name]
    return out


def tool_config_from_canonical(req: Request, same: bool, dropped: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    choice = req.tool_choice
    calling: dict[str, object] | Raw | None = None
    if choice is not None:
        calling = calling_out(choice)
        if choice.parallel is False:
            dropped.append("parallel_tool_calls")  # Gemini cannot limit a turn to one call
    for key, raw in req.extras.items() if same else ():
        if not key.startswith(TOOL_CONFIG):
            continue
        sub = key[len(TOOL_CONFIG) :]
        if s.camel(sub) != "functionCallingConfig":
            out.setdefault(sub, raw)
        elif choice is not None and choice_of(s.decode_calling(raw)) == choice:
            calling = raw
    if calling is not None:
        out["functionCallingConfig"] = calling
    return out
