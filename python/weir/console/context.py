"""What every console page shares: the service (made when the gateway's store is open), the session cookie, the
viewer of a request, CSRF-checked forms, and rendering with the security headers' companions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from weir.admin.tokens import AdminTokens
from weir.console.principal import Viewer, current
from weir.console.ratelimit import SlidingWindow
from weir.console.render import templates
from weir.console.session import COOKIE, Session, Sessions, session_secret
from weir.gateway import Gateway
from weir.http.asgi import headers_of
from weir.http.client_ip import ClientIP
from weir.service import Service

BASE = "/console"
MAX_FORM_FIELDS = 50
MAX_FORM_BYTES = 64 * 1024


class Forbidden(Exception):
    """A form without its CSRF token (or with another session's)."""


class Console:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._service: Service | None = None
        self._sessions: Sessions | None = None
        self.templates = templates()
        config = gateway.config
        self.tokens = AdminTokens(config.admin.tokens)
        self.attempts = SlidingWindow(limit=10, window_seconds=60.0)
        self.client_ip = ClientIP.from_cidrs(config.server.trusted_proxies)

    @property
    def service(self) -> Service:
        if self._service is None:  # made on first use: the gateway's store opens with the app
            self._service = Service(self.gateway.store, self.gateway.config)
        return self._service

    @property
    def sessions(self) -> Sessions:
        if self._sessions is None:
            self._sessions = Sessions(session_secret(self.service.pepper()))
        return self._sessions

    def address(self, request: Request) -> str:
        found = headers_of(request.scope, self.client_ip.headers)
        return self.client_ip.of_request(request.scope, found) or "unknown"

    async def viewer(self, request: Request) -> Viewer | None:
        session = self.sessions.read(request.cookies.get(COOKIE))
        if session is None:
            return None
        return await current(session, self.service, self.sessions, self.tokens)

    async def form(self, request: Request, sid: str | None) -> FormData:
        """The posted form, once its CSRF token is the one of `sid` (the session's, or the sign-in nonce)."""
        if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
            raise Forbidden("The form is too large.")
        form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_BYTES)
        if not self.sessions.csrf_ok(sid, form.get("csrf")):
            raise Forbidden("The form's CSRF token is missing or stale; reload the page and try again.")
        return form

    def page(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        viewer: Viewer | None = None,
        status: int = 200,
        csrf: str | None = None,
    ) -> Response:
        values: dict[str, Any] = {"viewer": viewer, "path": request.url.path, "base": BASE}
        if viewer is not None:
            values["csrf"] = self.sessions.csrf(viewer.session.sid)
        if csrf is not None:
            values["csrf"] = csrf
        values.update(context or {})
        return self.templates.TemplateResponse(request, template, values, status_code=status)

    def forbidden(self, request: Request, message: str, viewer: Viewer | None = None) -> Response:
        return self.page(request, "error.html", {"title": "Refused", "message": message}, viewer, status=403)

    def secure(self, request: Request) -> bool:
        """Over https, as the server or a TLS-terminating proxy says: a client that claims https when it is not only
        makes its own cookie unusable over http, so the header needs no trust."""
        return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"

    def set_session(self, response: Response, request: Request, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            self.sessions.sign(session),
            max_age=self.sessions.max_age,
            path=BASE,
            httponly=True,
            samesite="strict",
            secure=self.secure(request),
        )


def page_size(request: Request, default: int = 50) -> int:
    """`?limit=` (1 to 200) or `default`: how many rows a table shows."""
    text = request.query_params.get("limit", "")
    return min(max(int(text), 1), 200) if text.isdigit() else default


def to(path: str) -> RedirectResponse:
    return RedirectResponse(BASE + path, status_code=303)


Handler = Callable[[Request, Viewer], Awaitable[Response]]


def signed_in(console: Console, kind: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of a page for `kind` (owner or operator): to the sign-in page without a valid session, to the
    viewer's own home for the other kind's pages, and 403 for a POST without its CSRF token."""

    async def endpoint(request: Request) -> Response:
        viewer = await console.viewer(request)
        if viewer is None:
            response = to("/login")
            response.delete_cookie(COOKIE, path=BASE)
            return response
        if viewer.session.kind != kind:
            return to("/" if viewer.is_owner else "/accounts")
        try:
            return await handler(request, viewer)
        except Forbidden as exc:
            return console.forbidden(request, str(exc), viewer)

    return endpoint
