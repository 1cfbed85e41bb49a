"""Who may call the management API, checked before anything is read: the routes on a gateway that is not even
open (no store), so every answer here comes from authentication alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from weir.admin.routes import admin_routes
from weir.config import Admin, Config
from weir.gateway import Gateway

TOKEN = "unit-admin-token-0123456789abcdef"


@pytest.fixture
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=admin_routes(Gateway(Config(admin=Admin(tokens=request.param)))))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://weir") as client:
        yield client


def error(response: httpx.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    found: dict[str, str] = response.json()["error"]
    return found


@pytest.mark.parametrize("client", [[]], indirect=True)
async def test_without_tokens_the_operator_api_is_off(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
        found = error(await client.get("/admin/v1/accounts", headers=headers), 403)
        assert found["type"] == "permission_error" and "no admin tokens are configured" in found["message"]


@pytest.mark.parametrize("client", [[TOKEN]], indirect=True)
async def test_a_token_is_read_from_the_bearer_header_only(client: httpx.AsyncClient) -> None:
    assert (
        "Missing admin token" in error(await client.post("/admin/v1/accounts", params={"token": TOKEN}), 401)["message"]
    )
    assert error(await client.get("/admin/v1/models", headers={"X-Api-Key": TOKEN}), 401)["code"] == "invalid_api_key"
    assert (
        error(await client.get("/admin/v1/models", headers={"Authorization": TOKEN}), 401)["code"] == "invalid_api_key"
    )
    found = error(await client.get("/admin/v1/models", headers={"Authorization": "Bearer sk-weir_x"}), 401)
    assert found["message"] == "Invalid admin token."
    # The token passes (the scheme's case and spaces do not matter): what is refused next is the query
    passed = await client.get("/admin/v1/models", headers={"Authorization": f"bearer  {TOKEN} "}, params={"x": "1"})
    assert "Unknown query parameter 'x'" in error(passed, 400)["message"]


@pytest.mark.parametrize("client", [[TOKEN]], indirect=True)
async def test_owners_need_a_management_key_in_the_bearer_header(client: httpx.AsyncClient) -> None:
    found = error(await client.get("/v1/account"), 401)
    assert found == {
        "message": "Missing management key. Send it as 'Authorization: Bearer mk-weir_...'.",
        "type": "authentication_error",
        "code": "invalid_api_key",
        "param": None,
    }
    assert error(await client.get("/v1/account", headers={"X-Api-Key": "mk-weir_x"}), 401)["code"] == "invalid_api_key"
