"""Flat Responses tools and tool_choice <-> canonical Tool and ToolChoice."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, Raw, UnsetType

from weir.canonical.request import Request, Tool, ToolChoice
from weir.dialects.openai_responses import schema as wire
from weir.dialects.openai_responses.content import Dropped
from weir.errors import InvalidRequest

# Raw top-level fields written through the canonical form (see `from_canonical` and request._reasoning_out).
SHADOWED = frozenset({"tools", "reasoning"})
_KEYS = {
    "function": frozenset({"type", "name", "description", "parameters", "strict"}),
    "custom": frozenset({"type", "name", "description", "format"}),
}
_MODES: dict[str, Literal["auto", "none", "any"]] = {"auto": "auto", "none": "none", "required": "any"}
_CHOICES = {"auto": "auto", "none": "none", "any": "required"}


def to_canonical(raws: list[Raw] | None, raw: Raw | None, extras: dict[str, Raw]) -> list[Tool]:
    """Function and custom tools. Any other tool (web_search, file_search, mcp...), or a key we do not model,
    makes the raw `tools` array an extra, so a Responses upstream still gets it as sent."""
    tools: list[Tool] = []
    exact = True
    for i, item in enumerate(raws or ()):
        try:
            keys = wire.decode_fields(item).keys()
            tool = wire.decode_tool(item)
        except msgspec.ValidationError as exc:
            raise wire.invalid(exc, f"tools[{i}]") from None
        known = _KEYS.get(tool.type)
        exact = exact and known is not None and keys <= known
        if known is not None and not tool.name:
            raise InvalidRequest(f"tools[{i}].name: a {tool.type} tool needs a name.", param=f"tools[{i}].name")
        if tool.type == "function":
            tools.append(
                Tool(
                    name=tool.name,
                    description=tool.description,
                    input_schema=_present(tool.parameters),
                    strict=tool.strict,
                )
            )
        elif tool.type == "custom":
            fmt = _present(tool.format)
            tools.append(Tool(name=tool.name, description=tool.description, kind="custom", format=fmt))
    if not exact and raw is not None:
        extras["tools"] = raw
    return tools


def from_canonical(req: Request, same: bool, dropped: Dropped) -> list[wire.ToolOut] | Raw | None:
    raw = req.extras.get("tools") if same else None
    if raw is not None:
        if to_canonical(wire.decode_raws(raw), None, {}) == req.tools:
            return raw  # as the client sent it: hosted tools and all
        dropped.add("tools")  # the tools changed on the way: only the ones the canonical form holds go on
    if not req.tools:
        return None
    return [_tool_out(tool) for tool in req.tools]


def _tool_out(tool: Tool) -> wire.ToolOut:
    description: str | UnsetType = UNSET if tool.description is None else tool.description
    if tool.kind == "custom":
        return wire.CustomToolOut(name=tool.name, description=description, format=_unset(tool.format))
    strict: bool | UnsetType = UNSET if tool.strict is None else tool.strict
    return wire.FunctionToolOut(
        name=tool.name, description=description, parameters=_unset(tool.input_schema), strict=strict
    )


def choice_to_canonical(raw: Raw | UnsetType, parallel: bool | None, extras: dict[str, Raw]) -> ToolChoice | None:
    if not isinstance(raw, UnsetType):
        try:
            value = wire.decode_tool_choice(raw)
        except msgspec.ValidationError as exc:
            raise wire.invalid(exc, "tool_choice") from None
        if isinstance(value, str):
            if value not in _MODES:
                raise InvalidRequest(f"tool_choice: unknown value {value!r}.", param="tool_choice")
            return ToolChoice(mode=_MODES[value], parallel=parallel)
        if value is not None:
            if value.type in ("function", "custom") and value.name:
                return ToolChoice(mode="tool", name=value.name, parallel=parallel)
            extras["tool_choice"] = raw  # allowed_tools, a hosted tool...: only a Responses upstream knows it
    return None if parallel is None else ToolChoice(mode="auto", parallel=parallel)


def choice_from_canonical(choice: ToolChoice, tools: list[Tool]) -> str | wire.NamedChoice:
    if choice.mode != "tool":
        return _CHOICES[choice.mode]
    name = choice.name or ""
    custom = any(t.kind == "custom" and t.name == name for t in tools)
    return wire.NamedChoice(type="custom" if custom else "function", name=name)


def _present(value: Raw | UnsetType) -> Raw | None:
    return None if isinstance(value, UnsetType) or value == wire.NULL else value


def _unset(value: Raw | None) -> Raw | UnsetType:
    return UNSET if value is None else value
