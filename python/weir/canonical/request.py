"""A model call in the canonical form."""

from __future__ import annotations

from typing import Literal

import msgspec

from weir.canonical.content import Content, Text

Role = Literal["user", "assistant"]


class Message(msgspec.Struct, kw_only=True):
    role: Role
    content: list[Content]


class Tool(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str
    description: str | None = None
    input_schema: msgspec.Raw | None = None  # JSON Schema of the arguments (function tools)
    kind: Literal["function", "custom"] = "function"
    format: msgspec.Raw | None = None  # custom tools' input grammar, carried as is
    strict: bool | None = None


class ToolChoice(msgspec.Struct, kw_only=True, omit_defaults=True):
    mode: Literal["auto", "any", "none", "tool"]
    name: str | None = None  # with mode "tool"
    parallel: bool | None = None  # False: at most one tool call per turn; None: the dialect's default


class Reasoning(msgspec.Struct, kw_only=True, omit_defaults=True):
    enabled: bool = True
    budget_tokens: int | None = None
    effort: str | None = None  # low | medium | high | ...


class Request(msgspec.Struct, kw_only=True, omit_defaults=True):
    model: str
    messages: list[Message]
    system: list[Text] = []
    tools: list[Tool] = []
    tool_choice: ToolChoice | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = []
    stream: bool = False
    reasoning: Reasoning | None = None
    user: str | None = None
    # Top-level fields the source dialect has that the canonical form does not model, by name. They are sent
    # on only to an upstream of the same dialect (`extras_dialect`), never guessed into another one.
    extras: dict[str, msgspec.Raw] = {}
    extras_dialect: str | None = None
