"""The path of one model call after authentication: resolve the model, admit, route, attempt, relay, settle.

Every endpoint comes through `Exchange.run`: chat, messages, responses and Gemini through `serve` (which also
chooses per attempt between byte passthrough and translation), count_tokens and the media endpoints with legs
of their own. Whatever ends a call (an answer, an upstream error, a translation error, the client leaving, a
timeout, a bug) reaches settlement once; a call that never reached an upstream leaves no usage record.
A GatewayError raised here was raised before the response started: the caller renders it in its dialect.
"""

from __future__ import annotations

import asyncio

from starlette.types import Receive, Send

from weir.billing.estimate import call_estimate, client_output_limit
from weir.billing.wallets import Wallets
from weir.canonical.request import Request
from weir.config import Server
from weir.errors import ClientGone, GatewayError, ServiceUnavailable
from weir.limits.headers import FAMILIES, Family
from weir.pipeline.admit import Admission, check_model
from weir.pipeline.attempt import Leg, MakeLeg, open_first, timed_out
from weir.pipeline.authenticate import Principal
from weir.pipeline.byok import AccountKeys
from weir.pipeline.call import Call
from weir.pipeline.inbound import Endpoint, Parsed
from weir.pipeline.relay.passthrough import PassthroughLeg
from weir.pipeline.relay.translate import TranslateLeg
from weir.pipeline.reply import CLIENT_CLOSED, current_task
from weir.pipeline.route import ModelTable, Route, Router
from weir.pipeline.settle import Settler
from weir.pipeline.watch import GONE, unwatch, watch
from weir.store.base import StoreError
from weir.upstreams.health import Key


class Exchange:
    def __init__(
        self,
        *,
        models: ModelTable,
        router: Router,
        wallets: Wallets,
        settler: Settler,
        server: Server,
        admission: Admission | None = None,
        byok: AccountKeys | None = None,
        byok_fee_percent: int = 0,
    ) -> None:
        self.models = models
        self.router = router
        self.wallets = wallets
        self.settler = settler
        self.server = server
        self.admission = admission or Admission(None, wallets)
        self.byok = byok  # accounts' own provider keys; None: BYOK is off
        self.byok_fee_ppm = byok_fee_percent * 10_000

    def begin(
        self,
        principal: Principal,
        name: str,
        request_id: str,
        stream: bool,
        session: str | None = None,
        ip: str | None = None,
        family: Family = "openai",
        *,
        size: int = 0,
        max_output: int | None = None,
        max_price: int | None = None,
    ) -> tuple[Call, list[Route], int | None]:
        """Resolve a call to the model named `name`, check that the key may call it, find its candidate routes.
        `size`: the request body's length, and `max_output` the client's output limit, for the call's estimate
        (billing/estimate.py); `max_price` the client's cap on it. Raises GatewayError. (Its rate limits and money
        are checked when it runs.)"""
        model = self.models.resolve(name)
        check_model(principal.access, model, name)
        routes, key = self.router.candidates(model, session)
        call = Call(request_id, principal, model, routes[0], stream, name, ip, family)
        if size:
            call.estimate = call_estimate(call.price, size, max_output or model.max_output, principal.multiplier_ppm)
        call.max_price = max_price
        return call, routes, key

    def legs(self, endpoint: Endpoint, call: Call, parsed: Parsed) -> MakeLeg:
        """How each attempt of a chat, messages, responses or Gemini call talks to its route: byte passthrough when
        the route speaks the client's dialect, translation through the canonical form when it does not."""
        finished = endpoint.finished(parsed, call.principal.account_id) if endpoint.remembers else None
        client = endpoint.dialect
        canonical: list[Request] = []  # converted once, the first time a route needs it
        server = self.server

        def leg_for(route: Route, key: Key) -> Leg:
            if route.upstream.wire is client:
                return PassthroughLeg(call, route, key, parsed, client, finished, server.max_sse_line_bytes)
            if not canonical:
                canonical.append(endpoint.to_canonical(parsed))
            return TranslateLeg(
                call,
                route,
                key,
                canonical[0],
                client,
                wants_usage=parsed.wants_usage,
                finished=finished,
                max_line_bytes=server.max_sse_line_bytes,
                keepalive_seconds=server.keepalive_seconds,
            )

        return leg_for

    async def serve(
        self,
        endpoint: Endpoint,
        principal: Principal,
        parsed: Parsed,
        request_id: str,
        receive: Receive,
        send: Send,
        ip: str | None = None,
        max_price: int | None = None,
    ) -> int:
        """A chat, messages, responses or Gemini call, end to end; the status the client got. (The endpoints make
        the same three steps themselves, so that no frame of this one stays in the chain of awaits.)"""
        if parsed.prepare:
            parsed = await endpoint.prepare(parsed, principal.account_id)
        dialect = endpoint.dialect.name
        call, routes, key = self.begin(
            principal,
            parsed.model,
            request_id,
            parsed.stream,
            parsed.session,
            ip,
            FAMILIES[dialect],
            size=len(parsed.raw),
            max_output=client_output_limit(dialect, parsed.payload),
            max_price=max_price,
        )
        await self.run(
            call, routes, self.legs(endpoint, call, parsed), receive, send, preferred_key=key, session=parsed.session
        )
        return call.status

    async def own_keys(self, call: Call) -> None:
        """The account's own provider keys, for the attempts (503 when the store cannot say: a call made with the
        provider's key instead would be billed at its full price)."""
        assert self.byok is not None
        account_id = call.principal.account_id
        keys = self.byok.cached(account_id)
        if keys is None:
            try:
                keys = await self.byok.load(account_id)
            except StoreError as exc:
                raise ServiceUnavailable("The key store is unavailable; try again shortly.") from exc
        call.byok = keys
        call.byok_fee_ppm = self.byok_fee_ppm

    async def run(
        self,
        call: Call,
        routes: list[Route],
        make_leg: MakeLeg,
        receive: Receive,
        send: Send,
        *,
        preferred_key: int | None = None,
        session: str | None = None,
        record: bool = True,
        watch_client: bool = True,
    ) -> None:
        """Admit the call (price cap, reservation, rate limits), attempt the routes in turn, relay the first good
        answer, settle. Raises the GatewayError that ended the call before its response started (after recording
        it, when an upstream was tried), with the key's rate-limit headers. `record=False`: a free call (token
        counting), metered in no usage record and not counted in the rate limits. `watch_client=False`: the
        request body is still being read during the exchange (an upload), so nothing else may read from the
        client meanwhile."""
        router = self.router
        admission = self.admission
        task: asyncio.Task[object] | None = current_task()
        assert task is not None
        watch(task, receive if watch_client else None, call)
        served: Route | None = None
        failure: GatewayError | None = None
        try:
            await admission.admit(call, limited=record)
            if self.byok is not None:
                await self.own_keys(call)
            leg, opened = await open_first(call, routes, make_leg, router.max_attempts, preferred_key, router.clock)
            served = opened.route
            call.upstream_response = opened.response
            call.first_byte()
            if session is not None:
                router.remember(call.model, session, served, opened.key.index)
            await leg.relay(opened, send)
        except GatewayError as err:
            call.status = err.status
            failure = err
        except ClientGone:
            call.status = CLIENT_CLOSED
        except asyncio.CancelledError:
            why = unwatch(task)
            task = None
            if why is None:
                raise  # shutdown, or a bug: the record is still settled below
            if why == GONE:
                call.status = CLIENT_CLOSED
            else:  # its time was up before its answer began
                failure = timed_out(call)
                call.status = failure.status
        finally:
            if task is not None:
                unwatch(task)
            if served is not None:
                served.metrics.in_flight.n -= 1
            if call.attempts and record:
                call.charged = call.cost()
            admission.end(call)  # before the record goes, so that its commit gives back what the call leaves
            if call.attempts and record:
                await call.settle(self.settler)
            if call.decision is not None or call.give_back:
                await admission.release(call)
        if failure is not None:
            if call.limit_headers and not failure.added and not call.answering:
                failure.add_headers(call.limit_headers)
            raise failure
