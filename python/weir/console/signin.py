"""Signing in (a management key or an admin token, posted in a form: never in a URL) and out. Attempts are
limited per client address; the sign-in form carries a CSRF token of its own, bound to a short-lived cookie."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from weir.console.context import BASE, Console, Forbidden, to
from weir.console.principal import sign_in
from weir.console.session import COOKIE, LOGIN_COOKIE, LOGIN_MAX_AGE_SECONDS
from weir.errors import GatewayError
from weir.service.errors import ServiceError


class SignIn:
    def __init__(self, console: Console) -> None:
        self.console = console

    async def home(self, request: Request) -> Response:
        viewer = await self.console.viewer(request)
        if viewer is None:
            return to("/login")
        return to("/overview" if viewer.is_owner else "/accounts")

    def _form(self, request: Request, error: str | None = None, status: int = 200) -> Response:
        console = self.console
        cookie, nonce = console.sessions.login_nonce()
        context = {"title": "Sign in", "error": error}
        response = console.page(request, "login.html", context, status=status, csrf=console.sessions.csrf(nonce))
        response.set_cookie(
            LOGIN_COOKIE,
            cookie,
            max_age=LOGIN_MAX_AGE_SECONDS,
            path=BASE,
            httponly=True,
            samesite="strict",
            secure=console.secure(request),
        )
        return response

    async def login_page(self, request: Request) -> Response:
        if await self.console.viewer(request) is not None:
            return await self.home(request)
        return self._form(request)

    async def login(self, request: Request) -> Response:
        console = self.console
        address = console.address(request)
        if not console.attempts.allow(address):
            response = self._form(request, "Too many sign-in attempts from your address; wait a minute.", 429)
            response.headers["retry-after"] = str(console.attempts.retry_after(address))
            return response
        nonce = console.sessions.read_login_nonce(request.cookies.get(LOGIN_COOKIE))
        try:
            form = await console.form(request, nonce)
        except Forbidden as exc:
            return console.forbidden(request, str(exc))
        secret = form.get("secret")
        if not isinstance(secret, str) or not secret.strip():
            return self._form(request, "Enter a management key or an admin token.", 400)
        auth = console.gateway.auth
        try:
            session = await sign_in(secret, address, auth, console.service, console.tokens, console.sessions)
        except (GatewayError, ServiceError) as exc:
            return self._form(request, exc.message, 401)
        response = to("/overview" if session.kind == "owner" else "/accounts")
        console.set_session(response, request, session)
        response.delete_cookie(LOGIN_COOKIE, path=BASE)
        return response

    async def logout(self, request: Request) -> Response:
        console = self.console
        session = console.sessions.read(request.cookies.get(COOKIE))
        if session is not None:  # no session (or an expired one): nothing to end, only the cookie to drop
            try:
                await console.form(request, session.sid)
            except Forbidden as exc:
                return console.forbidden(request, str(exc))
        response = to("/login")
        response.delete_cookie(COOKIE, path=BASE)
        return response
