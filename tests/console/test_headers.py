"""Every console response carries the security headers, whatever the page set."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from weir.console.headers import SecurityHeaders


async def page(request: Request) -> Response:
    return PlainTextResponse("hi", headers={"x-frame-options": "SAMEORIGIN"})


async def moved(request: Request) -> Response:
    return RedirectResponse("/elsewhere", status_code=303)


def test_pages_and_redirects_carry_the_headers() -> None:
    app = SecurityHeaders(Starlette(routes=[Route("/", page), Route("/moved", moved)]))
    with TestClient(app) as client:
        for path in ("/", "/moved"):
            response = client.get(path, follow_redirects=False)
            csp = response.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
            assert response.headers.get_list("x-frame-options") == ["DENY"]  # the page's own is replaced
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["cache-control"] == "no-store"


def test_static_files_may_be_cached() -> None:
    app = SecurityHeaders(Starlette(routes=[Route("/", page)]), cache=True)
    with TestClient(app) as client:
        response = client.get("/")
        assert "cache-control" not in response.headers and response.headers["x-frame-options"] == "DENY"
