"""Route: model name -> the configured model, then its routes in the order a call tries them.

Order: by `priority` (lower first); among routes of one priority, a weighted random order (each next route is
drawn with probability proportional to its weight among those left), so traffic spreads by weight and the others
of that priority are the next candidates. Routes that cannot serve now are left out: the provider is paused, the
route's breaker is open (or its one half-open trial is taken), the upstream asked to wait (`retry-after` on a
5xx), or every key of the provider is cooling or retired. A call that carries a session id goes first to the
route that served the session's previous call, while that route is usable (prompt caches keep hitting).
"""

from __future__ import annotations

import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import msgspec

from weir.billing.prices import TokenPrice, stored_price
from weir.config import Config, Model, Routing
from weir.errors import GatewayError, ModelNotFound, NoChannelAvailable, ProviderPaused
from weir.observability.metrics import RouteMetrics
from weir.store.records import ModelState
from weir.upstreams.health import Breaker, RetryBudget
from weir.upstreams.provider import Upstream

log = logging.getLogger("weir.route")

MAX_SESSIONS = 100_000  # sticky sessions remembered per worker; the least recently used are forgotten
MAX_NAMES_SHOWN = 10


class Route:
    __slots__ = (
        "breaker",
        "held_until",
        "index",
        "metrics",
        "model_id",
        "priority",
        "stream_url",
        "unary_url",
        "upstream",
        "upstream_model",
        "weight",
    )

    def __init__(
        self,
        upstream: Upstream,
        upstream_model: str,
        model_id: str,
        *,
        index: int = 0,
        priority: int = 0,
        weight: int = 1,
        breaker: Breaker | None = None,
    ) -> None:
        self.upstream = upstream
        self.upstream_model = upstream_model
        self.model_id = model_id
        self.index = index  # its position among the model's configured routes
        self.priority = priority
        self.weight = weight
        self.unary_url = upstream.call_url(upstream_model, False)
        self.stream_url = upstream.call_url(upstream_model, True)
        self.breaker = breaker or Breaker(5, 30.0)
        self.metrics = RouteMetrics(upstream.name, model_id, self.breaker)
        self.held_until = 0.0  # the upstream's retry-after on a 5xx: skipped until then

    def url(self, stream: bool) -> str:
        return self.stream_url if stream else self.unary_url

    def usable(self, now: float) -> bool:
        upstream = self.upstream
        return (
            upstream.paused is None
            and self.held_until <= now
            and (self.breaker.calm or self.breaker.available(now))
            and upstream.keys.usable(now)
        )

    def seconds_until_usable(self, now: float) -> float | None:
        """How long until this route may be tried again; None when only an operator can bring it back (paused,
        or every key retired)."""
        if self.upstream.paused is not None:
            return None
        keys = self.upstream.keys.seconds_until_usable(now) if self.upstream.keys.keys else 0.0
        if keys is None:
            return None
        return max(keys, self.held_until - now, self.breaker.seconds_until_trial(now), 0.0)


CONFIG_DISABLED = "disabled in the configuration"


class ResolvedModel:
    __slots__ = (
        "aliases",
        "budget",
        "configured_off",
        "configured_price",
        "disabled",
        "id",
        "max_output",
        "max_tokens",
        "price",
        "routes",
        "token_encoding",
    )

    def __init__(self, config: Model, price: TokenPrice, routes: list[Route], budget: RetryBudget) -> None:
        self.id = config.id
        self.aliases = list(config.aliases)
        self.price = price  # what its calls are billed at: the configuration's, or the operator's from the store
        self.configured_price = price
        self.routes = routes
        self.budget = budget  # retries allowed for this model's calls (shared by its routes)
        self.max_tokens = config.max_tokens  # for upstreams that require it when the client sent none
        # the most output admission reserves money for when the client sets no limit
        self.max_output = config.max_output_tokens or config.max_tokens
        self.token_encoding = config.token_encoding
        self.configured_off = not config.enabled
        # None: callable. Else why the operator disabled it ("" when they gave no reason): calls get 403.
        self.disabled: str | None = CONFIG_DISABLED if self.configured_off else None


SERVED_NAMED = 10  # an unknown model's error names at most this many of the served models


class ModelTable:
    def __init__(self, config: Config, upstreams: dict[str, Upstream]) -> None:
        self.models: list[ResolvedModel] = []
        self._by_name: dict[str, ResolvedModel] = {}
        self._prices: dict[str, tuple[str, TokenPrice]] = {}  # model id -> (the store's JSON, its prices)
        routing = config.routing
        for i, m in enumerate(config.models):
            routes = [
                Route(
                    upstreams[r.provider],
                    r.model,
                    m.id,
                    index=j,
                    priority=r.priority,
                    weight=r.weight,
                    breaker=Breaker(routing.breaker_failures, routing.breaker_open_seconds),
                )
                for j, r in enumerate(m.routes)
            ]
            budget = RetryBudget(routing.retry_budget_percent / 100, routing.retry_budget_minimum)
            resolved = ResolvedModel(m, TokenPrice.from_config(m.price, f"models[{i}].price"), routes, budget)
            self.models.append(resolved)
            for name in (m.id, *m.aliases):
                self._by_name[name] = resolved
        ids = [m.id for m in self.models]
        more = f" and {len(ids) - SERVED_NAMED} more" if len(ids) > SERVED_NAMED else ""
        self._served = f" Served here: {', '.join(ids[:SERVED_NAMED])}{more}; GET /v1/models lists them all."

    def apply_states(self, states: Sequence[ModelState]) -> None:
        """The operator's disabled models and prices, from the store (`weir models disable`, `weir models price`);
        the configuration's disabled models stay off. A call is billed at the prices it was admitted at."""
        off = {state.id: state.reason or "" for state in states if state.disabled}
        prices = {state.id: state.price for state in states if state.price is not None}
        for model in self.models:
            if not model.configured_off:
                model.disabled = off.get(model.id)
            text = prices.get(model.id)
            model.price = model.configured_price if text is None else self._stored_price(model.id, text)

    def _stored_price(self, model_id: str, text: str) -> TokenPrice:
        """The operator's prices, decoded once per change (a refresh comes every interval)."""
        seen = self._prices.get(model_id)
        if seen is not None and seen[0] == text:
            return seen[1]
        try:
            price = stored_price(text)
        except (msgspec.DecodeError, ValueError) as exc:  # never written so by Weir: keep billing as configured
            log.error("model %s: its stored prices are unreadable (%s); billed at the configured ones", model_id, exc)
            price = next(m.configured_price for m in self.models if m.id == model_id)
        self._prices[model_id] = (text, price)
        return price

    def resolve(self, name: str) -> ResolvedModel:
        model = self._by_name.get(name)
        if model is None:
            message = f"The model {name!r} does not exist or is not served here.{self._served}"
            raise ModelNotFound(message, param="model")
        return model


class Sticky:
    """Session id -> (route index, key index, expiry), per worker, bounded (least recently used forgotten)."""

    __slots__ = ("_seconds", "_sessions")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._sessions: OrderedDict[tuple[str, str], tuple[int, int, float]] = OrderedDict()

    def get(self, model: str, session: str, now: float) -> tuple[int, int] | None:
        found = self._sessions.get((model, session))
        if found is None or found[2] <= now:
            return None
        return found[0], found[1]

    def put(self, model: str, session: str, route: int, key: int, now: float) -> None:
        if self._seconds <= 0:
            return
        entry = (model, session)
        self._sessions[entry] = (route, key, now + self._seconds)
        self._sessions.move_to_end(entry)
        if len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)


class Router:
    def __init__(
        self,
        routing: Routing,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.max_attempts = routing.max_attempts
        self.sticky = Sticky(routing.sticky_seconds)
        self.clock = clock
        self._random = (rng or random.Random()).random

    def candidates(self, model: ResolvedModel, session: str | None = None) -> tuple[list[Route], int | None]:
        """The routes to try, in order, and the key index the session used last (or None). Raises
        ProviderPaused (429) when every route's provider is paused, NoChannelAvailable (503) when no route can
        serve now."""
        now = self.clock()
        routes = model.routes
        if len(routes) == 1:  # the common case, without the sort and the draw
            route = routes[0]
            upstream = route.upstream
            healthy = upstream.paused is None and route.held_until <= now and route.breaker.calm
            if not (healthy and upstream.keys.calm) and not route.usable(now):
                raise self._none_usable(model, now)
            return routes, (None if session is None else self._sticky_key(model, session, route, now))
        usable = [r for r in routes if r.usable(now)]
        if not usable:
            raise self._none_usable(model, now)
        ordered = self._order(usable)
        key: int | None = None
        if session is not None:
            found = self.sticky.get(model.id, session, now)
            if found is not None:
                for i, route in enumerate(ordered):
                    if route.index == found[0]:
                        ordered.insert(0, ordered.pop(i))
                        key = found[1]
                        break
        return ordered, key

    def _sticky_key(self, model: ResolvedModel, session: str, route: Route, now: float) -> int | None:
        found = self.sticky.get(model.id, session, now)
        return found[1] if found is not None and found[0] == route.index else None

    def _order(self, routes: list[Route]) -> list[Route]:
        by_priority: dict[int, list[Route]] = {}
        for route in routes:
            by_priority.setdefault(route.priority, []).append(route)
        ordered: list[Route] = []
        for priority in sorted(by_priority):
            group = by_priority[priority]
            while len(group) > 1:
                point = self._random() * sum(r.weight for r in group)
                chosen = len(group) - 1  # float rounding can leave `point` a hair above the last weight
                for i, route in enumerate(group):
                    point -= route.weight
                    if point < 0:
                        chosen = i
                        break
                ordered.append(group.pop(chosen))
            ordered.extend(group)
        return ordered

    def remember(self, model: ResolvedModel, session: str | None, route: Route, key: int) -> None:
        """The session's call was served by `route` with key `key`: its next call goes there first."""
        if session is not None:
            self.sticky.put(model.id, session, route.index, key, self.clock())

    def _none_usable(self, model: ResolvedModel, now: float) -> GatewayError:
        if all(r.upstream.paused is not None for r in model.routes):
            names = sorted({r.upstream.name for r in model.routes})
            return ProviderPaused(
                f"The model {model.id!r} is not available: its provider{'s' if len(names) > 1 else ''} "
                f"{', '.join(names[:MAX_NAMES_SHOWN])} {'are' if len(names) > 1 else 'is'} paused by the operator."
            )
        waits = [w for w in (r.seconds_until_usable(now) for r in model.routes) if w is not None]
        retry = max(1, int(min(waits) + 0.999)) if waits else None
        return NoChannelAvailable(f"no available channel for model {model.id}", retry_after=retry)
