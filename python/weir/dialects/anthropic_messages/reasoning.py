"""Extended thinking: Anthropic's `thinking` and `output_config.effort` <-> canonical Reasoning.

Reasoning is the portable summary. A request that came in Anthropic and goes out Anthropic is written back as the
client sent it: `request.to_canonical` keeps the raw `thinking` / `output_config` in extras whenever the summary
cannot reproduce them (adaptive `display`, an explicit `disabled`, structured-output `format`...), and the raw
field is used again as long as the summary still matches it (a pipeline stage that changes Reasoning wins).

Canonical meaning: enabled with `budget_tokens` = `{"type": "enabled"}`; enabled without = `{"type": "adaptive"}`;
`enabled=False` = no extended thinking (`effort` alone, Anthropic's effort without thinking).
"""

from __future__ import annotations

import msgspec
from msgspec import Raw

from weir.canonical.request import Reasoning, Request
from weir.dialects.anthropic_messages import schema as s

MIN_BUDGET = 1024  # Anthropic: budget_tokens >= 1024 and < max_tokens
EFFORT_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 32768, "max": 32768}
DEFAULT_BUDGET = EFFORT_BUDGETS["medium"]


def from_wire(thinking: s.Thinking | None, effort: str | None) -> Reasoning | None:
    if thinking is None or thinking.type == "disabled":
        if thinking is None and effort is None:
            return None
        return Reasoning(enabled=False, effort=effort)
    budget = thinking.budget_tokens
    if thinking.type != "enabled" or isinstance(budget, msgspec.UnsetType):
        return Reasoning(enabled=True, effort=effort)
    return Reasoning(enabled=True, budget_tokens=budget, effort=effort)


def same_dialect_thinking(reasoning: Reasoning | None) -> dict[str, object] | None:
    """The `thinking` field that stands for `reasoning` when the request came in Anthropic."""
    if reasoning is None or not reasoning.enabled:
        return None
    if reasoning.budget_tokens is not None:
        return {"type": "enabled", "budget_tokens": reasoning.budget_tokens}
    return {"type": "adaptive"}


def thinking_out(req: Request, max_tokens: int, same: bool, dropped: list[str]) -> dict[str, object] | Raw | None:
    reasoning = req.reasoning
    if same:
        raw = req.extras.get("thinking")
        if raw is not None and _raw_matches(raw, reasoning):
            return raw
        return same_dialect_thinking(reasoning)
    if reasoning is None or not reasoning.enabled or reasoning.effort == "none":
        return None
    if req.tool_choice is not None and req.tool_choice.mode in ("any", "tool"):
        dropped.append("reasoning")  # Anthropic refuses thinking together with a forced tool
        return None
    # Older Claude models know only budgets; `output_config.effort` needs a model and beta that support it.
    budget = reasoning.budget_tokens or EFFORT_BUDGETS.get(reasoning.effort or "", DEFAULT_BUDGET)
    budget = min(max(budget, MIN_BUDGET), max_tokens - 1)
    if budget < MIN_BUDGET:
        dropped.append("reasoning")  # max_tokens leaves no room for the minimum thinking budget
        return None
    return {"type": "enabled", "budget_tokens": budget}


def output_config_out(req: Request, same: bool) -> dict[str, object] | None:
    """`output_config` for a request that came in Anthropic (others get effort as a thinking budget)."""
    if not same:
        return None
    effort = req.reasoning.effort if req.reasoning is not None else None
    raw = req.extras.get("output_config")
    config: dict[str, object] = {}
    if raw is not None:
        config.update(s.decode_object(raw))
    if effort is None:
        config.pop("effort", None)
    else:
        config["effort"] = effort
    return config or None


def drop_thinking_incompatible(sampling: dict[str, float | int | None], dropped: list[str]) -> None:
    """With thinking on, Anthropic refuses temperature other than 1, any top_k, and top_p below 0.95."""
    for name, value in sampling.items():
        if value is None:
            continue
        if (name == "temperature" and value != 1) or name == "top_k" or (name == "top_p" and value < 0.95):
            sampling[name] = None
            dropped.append(name)


def _raw_matches(raw: Raw, reasoning: Reasoning | None) -> bool:
    effort = reasoning.effort if reasoning is not None else None
    try:
        return from_wire(s.decode_thinking(raw), effort) == reasoning
    except msgspec.DecodeError:
        return False
