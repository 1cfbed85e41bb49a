"""The management API through httpx against the session's `weir serve`, on SQLite and on PostgreSQL: each endpoint,
account isolation, operator and owner authentication, idempotent top-ups, pagination, CSV."""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from starlette.routing import Route

from tests.e2e.conftest import HASHED_ADMIN_TOKEN, Weir
from tests.support import mock_upstream as mock
from weir.admin.routes import admin_routes
from weir.gateway import Gateway
from weir.service.views import USAGE_FIELDS

MESSAGES = [{"role": "user", "content": "hi"}]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(weir: Weir) -> Iterator[httpx.Client]:
    assert weir.admin_token is not None
    with httpx.Client(base_url=f"{weir.url}/admin/v1", headers=bearer(weir.admin_token), timeout=10) as client:
        yield client


def client_for(weir: Weir, key: str) -> httpx.Client:
    return httpx.Client(base_url=weir.url, headers=bearer(key), timeout=10)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: httpx.Response, status: int, code: str | None = None, says: str = "") -> dict[str, Any]:
    """An OpenAI-shaped error with this status (and code), whose message holds `says`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    if code is not None:
        assert error["code"] == code, error
    assert says in error["message"], error
    return error


def wait_until(what: str, check: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds}s: {what}"
        time.sleep(0.1)


def new_account(admin: httpx.Client, balance_usd: str = "5") -> dict[str, Any]:
    account: dict[str, Any] = ok(
        admin.post("/accounts", json={"name": unique("acct"), "balance_usd": balance_usd}), 201
    )
    return account


def new_key(admin: httpx.Client, account: dict[str, Any], kind: str = "inference") -> str:
    made = ok(admin.post(f"/accounts/{account['id']}/keys", json={"kind": kind, "name": kind}), 201)
    key: str = made["key"]
    return key


def walk(client: httpx.Client, path: str, limit: int, **params: str) -> list[list[dict[str, Any]]]:
    """Every page of a list, following next_cursor."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
        page = ok(client.get(path, params=query))
        assert page["object"] == "list" and len(page["data"]) <= limit
        assert page["has_more"] == (page["next_cursor"] is not None)
        pages.append(page["data"])
        if not page["has_more"]:
            return pages
        cursor = page["next_cursor"]
        assert len(pages) < 100


def test_operator_authentication(weir: Weir, admin: httpx.Client) -> None:
    url = f"{weir.url}/admin/v1/accounts"
    refused(httpx.get(url), 401, "invalid_api_key", "Missing admin token")
    refused(httpx.get(url, headers=bearer("not-the-token-0123456789abcdef")), 401, "invalid_api_key", "Invalid")
    refused(httpx.get(url, headers={"Authorization": f"Basic {weir.admin_token}"}), 401, "invalid_api_key")
    refused(httpx.get(url, params={"token": weir.admin_token}), 401)  # never read from the query string
    account = new_account(admin)
    for kind in ("management", "inference"):
        refused(httpx.get(url, headers=bearer(new_key(admin, account, kind))), 403, "permission_denied", "admin token")
    assert ok(httpx.get(url, headers=bearer(HASHED_ADMIN_TOKEN), params={"limit": "1"}))["object"] == "list"
    refused(admin.get("/no-such-thing"), 404, "not_found", "No route for GET /admin/v1/no-such-thing")
    refused(admin.delete("/accounts"), 405)


def every_route() -> list[tuple[str, str]]:
    """(method, path) of every management route, its path parameters filled in, as weir.admin.routes lists them."""
    config = SimpleNamespace(admin=SimpleNamespace(tokens=[]))
    routes = admin_routes(cast(Gateway, SimpleNamespace(config=config)))
    filled = {"account_id:int": "1", "key_id": "abc", "name:path": "gpt-test", "name": "mock", "request_id": "req_x"}
    found = []
    for route in routes:
        assert isinstance(route, Route) and route.methods is not None
        path = re.sub(r"\{([^}]+)\}", lambda m: filled[m.group(1)], route.path)
        found += [(method, path) for method in sorted(route.methods - {"HEAD"})]
    return found


def test_every_route_needs_its_credential(weir: Weir) -> None:
    """No management route answers without a credential: a key owner's needs a management key, an operator's an
    admin token (a route added without its check fails here)."""
    routes = every_route()
    assert len(routes) >= 36 and ("GET", "/admin/v1/providers/mock") in routes
    for method, path in routes:
        answer = httpx.request(method, f"{weir.url}{path}", json={})
        if path.startswith("/admin/v1/"):
            refused(answer, 401, "invalid_api_key", "Missing admin token")
        else:
            refused(answer, 401, "invalid_api_key", "Missing management key")


def test_owner_authentication(weir: Weir, admin: httpx.Client) -> None:
    url = f"{weir.url}/v1/account"
    refused(httpx.get(url), 401, "invalid_api_key", "Missing management key")
    assert weir.admin_token is not None
    refused(httpx.get(url, headers=bearer(weir.admin_token)), 401, "invalid_api_key", "not a well-formed Weir key")
    account = new_account(admin)
    inference = new_key(admin, account)
    refused(httpx.get(url, headers=bearer(inference)), 403, "permission_denied", "use a management key")
    refused(httpx.get(f"{url}?key={new_key(admin, account, 'management')}"), 401)  # never from the query string
    management = new_key(admin, account, "management")
    refused(
        httpx.post(f"{weir.url}/v1/chat/completions", headers=bearer(management), json={"model": "gpt-test"}),
        403,
        "permission_denied",
    )
    me = ok(httpx.get(url, headers=bearer(management)))
    assert me == {**account, "balance_microcents": 500_000_000, "balance_usd": "5", "default_tier": None}


def test_accounts(admin: httpx.Client) -> None:
    name = unique("acme")
    made = ok(admin.post("/accounts", json={"name": name, "balance_microcents": 1_234}), 201)
    assert made["name"] == name and made["balance_microcents"] == 1_234 and made["disabled"] is False
    assert ok(admin.get(f"/accounts/{made['id']}")) == made
    assert ok(admin.get("/accounts", params={"name": name}))["data"] == [made]
    assert ok(admin.get("/accounts", params={"name": unique("nobody")}))["data"] == []
    refused(admin.post("/accounts", json={"name": name}), 409, "account_exists", f"an account named '{name}'")
    refused(admin.get("/accounts/999999999"), 404, "account_not_found", "no account with id 999999999")
    refused(
        admin.post("/accounts", json={"name": "x", "colour": "red"}), 400, "invalid_request", "unknown field 'colour'"
    )
    refused(admin.post("/accounts", json={}), 400, "invalid_request", "'name' is required")
    refused(admin.post("/accounts", json={"name": 7}), 400, "invalid_request", "name: expected str, got int")
    refused(admin.post("/accounts", content=b"{not json"), 400, "invalid_request", "not valid JSON")
    refused(admin.post("/accounts", json={"name": "y", "balance_usd": "1", "balance_microcents": 1}), 400)
    refused(admin.post("/accounts", json={"name": "z", "balance_usd": "0.000000001"}), 400, None, "8 decimal places")
    refused(admin.post("/accounts", content=b"x" * 70_000), 413, "request_too_large")
    refused(admin.get("/accounts", params={"limt": "2"}), 400, "invalid_request", "Unknown query parameter 'limt'")


def test_account_lists_walk_every_page_and_are_bounded(admin: httpx.Client) -> None:
    made = [new_account(admin, "0")["id"] for _ in range(5)]
    pages = walk(admin, "/accounts", 2)
    ids = [a["id"] for page in pages for a in page]
    assert len(ids) == len(set(ids)) and set(made) <= set(ids)
    assert ids == sorted(ids, reverse=True)  # newest first
    assert [a["id"] for a in pages[0]][:1] == [max(ids)]
    assert len(ok(admin.get("/accounts", params={"limit": "200"}))["data"]) <= 200
    refused(admin.get("/accounts", params={"limit": "201"}), 400, "invalid_request", "1 to 200 items")
    refused(admin.get("/accounts", params={"limit": "0"}), 400, "invalid_request", "1 to 200 items")
    refused(admin.get("/accounts", params={"cursor": "bogus"}), 400, "invalid_request", "not a cursor")


def test_every_list_is_paged_and_bounded(weir: Weir, admin: httpx.Client) -> None:
    """Each list of both APIs takes `limit` (1 to 200) and `cursor`, refuses a cursor of another list, and walks its
    whole content a page at a time."""
    account = new_account(admin)
    for note in ("first", "second"):
        ok(admin.post(f"/accounts/{account['id']}/topups", json={"amount_usd": "1", "note": note}), 201)
    new_key(admin, account)
    of = f"/accounts/{account['id']}"
    lists = [f"{weir.url}/v1/account/{path}" for path in ("keys", "usage", "ledger")]
    lists += [f"{weir.url}/admin/v1{path}" for path in ("/accounts", "/usage", "/models", "/tiers", "/providers")]
    lists += [f"{weir.url}/admin/v1{of}/{path}" for path in ("keys", "ledger", "usage")]
    with client_for(weir, new_key(admin, account, "management")) as me:
        for url in lists:
            client = me if url.startswith(f"{weir.url}/v1/") else admin
            for limit in ("0", "201"):
                refused(client.get(url, params={"limit": limit}), 400, "invalid_request", "1 to 200 items")
            assert len(ok(client.get(url, params={"limit": "1"}))["data"]) <= 1
        ledger = [e["note"] for page in walk(me, "/v1/account/ledger", 1) for e in page]
        assert ledger == ["second", "first", None]  # newest first: the two top-ups, then the opening balance
        assert [e for page in walk(admin, f"{of}/ledger", 2) for e in page] == ok(me.get("/v1/account/ledger"))["data"]
        assert [len(page) for page in walk(me, "/v1/account/keys", 1)] == [1, 1]
    providers = [p["name"] for page in walk(admin, "/providers", 2) for p in page]
    assert providers == [p["name"] for p in ok(admin.get("/providers"))["data"]] and len(providers) >= 6
    kinds = ("/models", "/providers", f"{of}/ledger")
    cursors = {path: ok(admin.get(path, params={"limit": "1"}))["next_cursor"] for path in kinds}
    assert all(cursors.values()), cursors
    for path, other in [("/providers", "/models"), ("/models", f"{of}/ledger"), ("/accounts", "/providers")]:
        refused(admin.get(path, params={"cursor": cursors[other]}), 400, "invalid_request")


def test_a_disabled_account_is_refused_everywhere_until_enabled(weir: Weir, admin: httpx.Client) -> None:
    account = new_account(admin)
    inference, management = new_key(admin, account), new_key(admin, account, "management")

    def chat() -> httpx.Response:
        body = {"model": "gpt-test", "messages": MESSAGES}
        return httpx.post(f"{weir.url}/v1/chat/completions", headers=bearer(inference), json=body)

    assert chat().status_code == 200
    assert ok(admin.patch(f"/accounts/{account['id']}", json={"disabled": True}))["disabled"] is True
    wait_until("the disable reaches the worker (key_cache_ttl_seconds)", lambda: chat().status_code == 403)
    refused(chat(), 403, "account_disabled", "account is disabled")
    refused(httpx.get(f"{weir.url}/v1/account", headers=bearer(management)), 403, "account_disabled")
    assert ok(admin.patch(f"/accounts/{account['id']}", json={"disabled": False}))["disabled"] is False
    wait_until("the enable reaches the worker", lambda: chat().status_code == 200)
    refused(admin.patch(f"/accounts/{account['id']}", json={"disabled": "yes"}), 400, None, "disabled: expected bool")


def test_topups_are_idempotent(weir: Weir, admin: httpx.Client) -> None:
    account = new_account(admin, "1")
    path = f"/accounts/{account['id']}/topups"
    key = {"Idempotency-Key": unique("invoice")}
    first = admin.post(path, json={"amount_usd": "2.5", "note": "invoice 1"}, headers=key)
    done = ok(first, 201)
    assert "idempotent-replayed" not in first.headers
    assert done["replayed"] is False and done["account"]["balance_microcents"] == 350_000_000
    entry = done["ledger_entry"]
    assert (entry["kind"], entry["amount_microcents"], entry["note"]) == ("topup", 250_000_000, "invoice 1")
    assert entry["idempotency_key"] == key["Idempotency-Key"]
    retry = admin.post(path, json={"amount_usd": "2.5", "note": "invoice 1"}, headers=key)
    assert ok(retry) == {**done, "replayed": True} and retry.headers["idempotent-replayed"] == "true"
    refused(admin.post(path, json={"amount_usd": "3", "note": "invoice 1"}, headers=key), 409, "idempotency_key_reused")
    ok(admin.post(path, json={"amount_microcents": 5}), 201)  # no key: applied each time
    ok(admin.post(path, json={"amount_microcents": 5}), 201)
    ledger = ok(admin.get(f"/accounts/{account['id']}/ledger"))["data"]
    assert [(e["kind"], e["amount_microcents"]) for e in ledger] == [
        ("topup", 5),
        ("topup", 5),
        ("topup", 250_000_000),
        ("initial", 100_000_000),
    ]
    assert ok(admin.get(f"/accounts/{account['id']}"))["balance_microcents"] == 350_000_010
    refused(admin.post(path, json={"amount_usd": "0"}), 400, "invalid_request", "greater than 0")
    refused(admin.post(path, json={}), 400, "invalid_request", "amount_usd (or amount_microcents) is required")
    refused(admin.post(path, json={"amount_usd": "1"}, headers={"Idempotency-Key": "with space"}), 400)
    refused(admin.post("/accounts/999999999/topups", json={"amount_usd": "1"}), 404, "account_not_found")


def test_owner_keys(weir: Weir, admin: httpx.Client) -> None:
    mine, theirs = new_account(admin), new_account(admin)
    other_key = new_key(admin, theirs)
    other_id = other_key.split("_")[1]
    with client_for(weir, new_key(admin, mine, "management")) as me:
        made = me.post("/v1/account/keys", json={"name": "laptop"})
        created = ok(made, 201)
        assert created["kind"] == "inference" and created["name"] == "laptop" and created["key"].startswith("sk-weir_")
        listed = ok(me.get("/v1/account/keys"))["data"]
        assert [k["id"] for k in listed][0] == created["id"] and all("key" not in k for k in listed)  # shown once
        assert {k["kind"] for k in listed} == {"inference", "management"}
        assert len(listed) == 2  # the management key and this one
        body = {"model": "gpt-test", "messages": MESSAGES}
        assert (
            httpx.post(f"{weir.url}/v1/chat/completions", headers=bearer(created["key"]), json=body).status_code == 200
        )
        renamed = ok(me.patch(f"/v1/account/keys/{created['id']}", json={"name": "desk"}))
        assert renamed == {
            **{k: v for k, v in created.items() if k != "key"},
            "name": "desk",
            "last_used_at": renamed["last_used_at"],
        }
        refused(me.patch(f"/v1/account/keys/{created['id']}", json={"label": "x"}), 400, None, "unknown field 'label'")
        # Another account's key: not found, and untouched
        refused(me.patch(f"/v1/account/keys/{other_id}", json={"name": "mine"}), 404, "key_not_found")
        refused(me.delete(f"/v1/account/keys/{other_id}"), 404, "key_not_found")
        assert all(k["id"] != other_id for k in ok(me.get("/v1/account/keys"))["data"])
        assert httpx.post(f"{weir.url}/v1/chat/completions", headers=bearer(other_key), json=body).status_code == 200
        revoked = ok(me.delete(f"/v1/account/keys/{created['id']}"))
        assert revoked["revoked_at"] is not None
        refused(me.delete(f"/v1/account/keys/{created['id']}"), 404, "key_not_found", "no active key")

        def refused_now() -> bool:
            return (
                httpx.post(f"{weir.url}/v1/chat/completions", headers=bearer(created["key"]), json=body).status_code
                == 401
            )

        wait_until("the revocation reaches the worker", refused_now)
        made_management = ok(me.post("/v1/account/keys", json={"kind": "management"}), 201)
        assert made_management["key"].startswith("mk-weir_") and made_management["name"] is None
        pages = walk(me, "/v1/account/keys", 1)
        assert [len(p) for p in pages] == [1, 1, 1]


def test_usage_records_ledger_and_isolation(weir: Weir, admin: httpx.Client) -> None:
    alice, bob = new_account(admin), new_account(admin)
    keys = [new_key(admin, alice), new_key(admin, alice)]
    bob_key = new_key(admin, bob)
    calls: list[httpx.Response] = []
    for i, (model, key) in enumerate([("gpt-test", keys[0]), ("gpt-test", keys[1]), ("claude-test", keys[0])] * 2):
        body = {"model": model, "messages": MESSAGES, "stream": i % 2 == 1}
        calls.append(httpx.post(f"{weir.url}/v1/chat/completions", headers=bearer(key), json=body))
    # refused by the upstream as the request's own fault (a 5xx would count against the shared server's breaker)
    failed = httpx.post(
        f"{weir.url}/v1/chat/completions", headers=bearer(keys[1]), json={"model": "bad-test", "messages": MESSAGES}
    )
    assert failed.status_code == 400
    bob_call = httpx.post(
        f"{weir.url}/v1/chat/completions", headers=bearer(bob_key), json={"model": "gpt-test", "messages": MESSAGES}
    )
    ids = {c.headers["x-weir-request-id"] for c in calls} | {failed.headers["x-weir-request-id"]}
    # what the response headers said each call cost (streams say it in the stream, not in a header)
    costs = {c.headers["x-weir-request-id"]: int(c.headers["x-weir-cost-microcents"]) for c in calls[::2]}

    with (
        client_for(weir, new_key(admin, alice, "management")) as me,
        client_for(weir, new_key(admin, bob, "management")) as them,
    ):
        wait_until("alice's calls are recorded", lambda: len(ok(me.get("/v1/account/usage"))["data"]) == 7)
        records = ok(me.get("/v1/account/usage"))["data"]
        assert {r["id"] for r in records} == ids
        assert list(records[0]) == list(USAGE_FIELDS)  # the generation lookup's shape
        for record in records:
            if record["id"] in costs:
                assert record["cost_microcents"] == costs[record["id"]] > 0 and record["stream"] is False
                assert record["cost"] == record["cost_microcents"] / 100_000_000
        assert [r["created_at"] for r in records] == sorted((r["created_at"] for r in records), reverse=True)
        pages = walk(me, "/v1/account/usage", 2)
        assert [len(p) for p in pages] == [2, 2, 2, 1] and [r["id"] for p in pages for r in p] == [
            r["id"] for r in records
        ]

        key_id = keys[0].split("_")[1]
        assert {r["key_id"] for r in ok(me.get("/v1/account/usage", params={"key": key_id}))["data"]} == {key_id}
        assert len(ok(me.get("/v1/account/usage", params={"key": key_id}))["data"]) == 4
        assert len(ok(me.get("/v1/account/usage", params={"model": "claude-test"}))["data"]) == 2
        errors = ok(me.get("/v1/account/usage", params={"status": "error"}))["data"]
        assert [r["id"] for r in errors] == [failed.headers["x-weir-request-id"]] and errors[0]["status"] == 400
        newest = records[0]["created_at"]
        assert len(ok(me.get("/v1/account/usage", params={"since": str(newest)}))["data"]) >= 1
        assert ok(me.get("/v1/account/usage", params={"until": "1970-01-02T00:00:00Z"}))["data"] == []
        refused(me.get("/v1/account/usage", params={"status": "bad"}), 400, "invalid_request", "status: expected")
        refused(me.get("/v1/account/usage", params={"since": "soon"}), 400, "invalid_request", "since:")

        by_model = ok(me.get("/v1/account/usage/summary", params={"group_by": "model"}))
        assert by_model["object"] == "usage_summary" and by_model["truncated"] is False
        totals = {g["model"]: (g["calls"], g["cost_microcents"]) for g in by_model["data"]}
        assert totals == {
            "gpt-test": (4, sum(r["cost_microcents"] for r in records if r["model"] == "gpt-test")),
            "claude-test": (2, sum(r["cost_microcents"] for r in records if r["model"] == "claude-test")),
            "bad-test": (1, 0),
        }
        by_day = ok(me.get("/v1/account/usage/summary"))["data"]
        spent = sum(r["cost_microcents"] for r in records)
        assert sum(g["calls"] for g in by_day) == 7 and sum(g["cost_microcents"] for g in by_day) == spent
        by_key = ok(me.get("/v1/account/usage/summary", params={"group_by": "key"}))["data"]
        assert sorted(g["calls"] for g in by_key) == [3, 4]
        refused(me.get("/v1/account/usage/summary", params={"group_by": "account"}), 400, None, "group_by")

        wait_until(
            "the debits are in the ledger",
            lambda: (
                sum(-e["amount_microcents"] for e in ok(me.get("/v1/account/ledger"))["data"] if e["kind"] == "usage")
                == spent
            ),
        )
        mine = ok(me.get("/v1/account"))
        assert mine["balance_microcents"] == 500_000_000 - spent
        assert (mine["rate_multiplier"], mine["allowed_tiers"], mine["default_tier"]) == (1.0, [], None)

        # bob sees his one call, none of alice's; and alice's key filter finds nothing of bob's
        wait_until("bob's call is recorded", lambda: len(ok(them.get("/v1/account/usage"))["data"]) == 1)
        assert [r["id"] for r in ok(them.get("/v1/account/usage"))["data"]] == [bob_call.headers["x-weir-request-id"]]
        assert ok(them.get("/v1/account/usage", params={"key": key_id}))["data"] == []
        assert all(
            e["kind"] != "usage" or e["amount_microcents"] > -spent for e in ok(them.get("/v1/account/ledger"))["data"]
        )
        assert {k["id"] for k in ok(them.get("/v1/account/keys"))["data"]}.isdisjoint({key_id, keys[1].split("_")[1]})

    # The operator sees the same records per account, and every account's together
    assert ok(admin.get(f"/accounts/{alice['id']}/usage"))["data"] == records
    assert ok(admin.get("/usage", params={"account": str(alice["id"])}))["data"] == records
    assert {r["id"] for r in ok(admin.get("/usage", params={"key": key_id}))["data"]} <= ids
    everyone = ok(admin.get("/usage/summary", params={"group_by": "account", "since": str(records[-1]["created_at"])}))[
        "data"
    ]
    assert {g["account"]: g["calls"] for g in everyone if g["account"] in (alice["id"], bob["id"])} == {
        alice["id"]: 7,
        bob["id"]: 1,
    }
    refused(admin.get("/usage", params={"account": "999999999"}), 404, "account_not_found")

    # ...with the owner's filters: model, status, key and a time range, in JSON, in CSV and in the totals
    mine = {"account": str(alice["id"])}
    claude = ok(admin.get("/usage", params={**mine, "model": "claude-test"}))["data"]
    assert [r["id"] for r in claude] == [r["id"] for r in records if r["model"] == "claude-test"] and len(claude) == 2
    assert [r["id"] for r in ok(admin.get("/usage", params={**mine, "status": "4xx"}))["data"]] == [
        failed.headers["x-weir-request-id"]
    ]
    middle = records[3]["created_at"]
    since = ok(admin.get("/usage", params={**mine, "since": str(middle)}))["data"]
    until = ok(admin.get("/usage", params={**mine, "until": str(middle)}))["data"]
    assert [r["id"] for r in since] == [r["id"] for r in records if r["created_at"] >= middle]  # since: included
    assert [r["id"] for r in until] == [r["id"] for r in records if r["created_at"] < middle]  # until: excluded
    as_csv = admin.get("/usage", params={**mine, "format": "csv", "model": "gpt-test", "status": "ok"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["id"] for r in rows] == [r["id"] for r in records if r["model"] == "gpt-test" and r["status"] == 200]
    by_key = admin.get("/usage", params={"key": key_id, "format": "csv"})  # every account's, one key's
    assert {r["key_id"] for r in csv.DictReader(io.StringIO(by_key.text))} == {key_id}
    totals = ok(admin.get("/usage/summary", params={**mine, "group_by": "key", "model": "gpt-test"}))["data"]
    assert sorted(g["calls"] for g in totals) == [2, 2]


def test_usage_as_csv(weir: Weir, admin: httpx.Client) -> None:
    account = new_account(admin)
    key = new_key(admin, account)
    for _ in range(3):
        httpx.post(
            f"{weir.url}/v1/chat/completions", headers=bearer(key), json={"model": "gpt-test", "messages": MESSAGES}
        )
    with client_for(weir, new_key(admin, account, "management")) as me:
        wait_until("the calls are recorded", lambda: len(ok(me.get("/v1/account/usage"))["data"]) == 3)
        records = ok(me.get("/v1/account/usage"))["data"]
        whole = me.get("/v1/account/usage", params={"format": "csv"})
        assert whole.status_code == 200 and whole.headers["content-type"] == "text/csv; charset=utf-8"
        assert "attachment" in whole.headers["content-disposition"] and "x-weir-next-cursor" not in whole.headers
        rows = list(csv.DictReader(io.StringIO(whole.text)))
        assert list(rows[0]) == list(USAGE_FIELDS)
        assert [(r["id"], int(r["cost_microcents"]), r["stream"]) for r in rows] == [
            (r["id"], r["cost_microcents"], "false") for r in records
        ]
        first = me.get("/v1/account/usage", params={"format": "csv", "limit": "2"})
        assert [r["id"] for r in csv.DictReader(io.StringIO(first.text))] == [r["id"] for r in records[:2]]
        rest = me.get("/v1/account/usage", params={"format": "csv", "cursor": first.headers["x-weir-next-cursor"]})
        assert [r["id"] for r in csv.DictReader(io.StringIO(rest.text))] == [records[2]["id"]]
        refused(me.get("/v1/account/usage", params={"format": "xml"}), 400, "invalid_request", "json or csv")
        refused(me.get("/v1/account/usage", params={"format": "csv", "limit": "100001"}), 400, None, "limit")
    as_operator = admin.get(f"/accounts/{account['id']}/usage", params={"format": "csv"})
    assert as_operator.text == whole.text


def test_models_and_providers(weir: Weir, admin: httpx.Client) -> None:
    models = [m for page in walk(admin, "/models", 7) for m in page]
    gpt = next(m for m in models if m["id"] == "gpt-test")
    assert gpt["price_usd_per_1m_tokens"] == {
        "input": 0.123,
        "output": 1.007,
        "cached_input": 0.0615,
        "cache_write": 0.123,
    }
    assert gpt["routes"] == [{"provider": "mock", "model": "mock-model"}] and gpt["aliases"] == ["openai/gpt-test"]
    assert ok(admin.get("/models/openai/gpt-test")) == gpt
    refused(admin.get("/models/no-such-model"), 404, "model_not_found")

    providers = {p["name"]: p for p in ok(admin.get("/providers"))["data"]}
    assert {"mock", "anthropic-mock", "nowhere"} <= set(providers)
    mock = providers["mock"]
    assert mock["dialect"] == "openai" and mock["keys"] == 1 and "api_keys" not in mock
    assert mock["workers"] and {"model": "gpt-test", "breaker": "closed"} in mock["workers"][0]["routes"]
    assert mock["workers"][0]["keys"] == ["ok"]
    refused(admin.get("/providers/no-such-provider"), 404, "provider_not_found")

    # A pause reaches the worker: the provider's model is refused (429 provider_paused, no upstream attempt) until
    # it is resumed. (A model whose calls succeed: failing calls would count against the shared server's breakers.)
    key = new_key(admin, new_account(admin))

    def status() -> int:
        body = {"model": "claude-test", "messages": MESSAGES}
        return httpx.post(f"{weir.url}/v1/chat/completions", headers=bearer(key), json=body).status_code

    assert status() == 200
    try:
        paused = ok(admin.post("/providers/anthropic-mock/pause", json={"reason": "maintenance"}))
        assert paused["paused"] is True and paused["reason"] == "maintenance"
        wait_until("the pause reaches the worker", lambda: status() == 429)
    finally:
        resumed = ok(admin.post("/providers/anthropic-mock/resume"))
    assert resumed["paused"] is False and resumed["reason"] is None and resumed["keys_reset_at"] > 0
    wait_until("the resume reaches the worker", lambda: status() == 200)
    refused(admin.post("/providers/anthropic-mock/pause", json={"why": "x"}), 400, None, "unknown field 'why'")


def test_model_prices_set_over_the_api_bill_the_next_calls(weir: Weir, admin: httpx.Client) -> None:
    """PATCH /admin/v1/models/{id} reaches the worker within key_cache_ttl_seconds: the next call is billed at the
    new prices, exactly; /v1/models shows them (times the caller's multiplier); null goes back to the configured."""
    account = new_account(admin)
    key, manager = new_key(admin, account), new_key(admin, account, "management")
    model = "priced-test"
    new = {"input": 2.5, "output": 10.0, "cached_input": 1.25}

    def listed(headers: dict[str, str] | None = None) -> dict[str, Any]:
        entries = ok(httpx.get(f"{weir.url}/v1/models", headers=headers or {}))["data"]
        entry: dict[str, Any] = next(e for e in entries if e["id"] == model)
        return entry

    configured = listed()["pricing"]
    assert configured == {
        "currency": "USD",
        "per_1m_tokens": {"input": 0.123, "output": 1.007, "cached_input": 0.0615, "cache_write": 0.123},
    }  # no per_unit: a chat model has no priced units
    assert listed()["provider"] == "mock"  # catalog.show_provider = true in the session's configuration
    refused(admin.patch(f"/models/{model}", json={"price": {"input": -1}}), 400, None, "must not be negative")
    refused(admin.patch(f"/models/{model}", json={"price": {"inputs": 1}}), 400, None, "unknown field 'inputs'")
    refused(admin.patch("/models/no-such-model", json={"price": {"input": 1}}), 404, "model_not_found")
    try:
        changed = ok(admin.patch(f"/models/{model}", json={"price": new}))
        assert changed["prices_set"] is True
        assert changed["price_usd_per_1m_tokens"] == {**new, "cache_write": 2.5}
        wait_until("the prices reach the worker", lambda: listed()["pricing"]["per_1m_tokens"]["input"] == 2.5)
        ok(admin.patch(f"/accounts/{account['id']}", json={"rate_multiplier": 0.8}))
        wait_until(
            "the multiplier reaches the worker", lambda: listed(bearer(key))["pricing"]["per_1m_tokens"]["input"] == 2.0
        )
        assert listed(bearer(key))["pricing"]["per_1m_tokens"] == {
            "input": 2.0,
            "output": 8.0,
            "cached_input": 1.0,
            "cache_write": 2.0,
        }
        ok(admin.patch(f"/accounts/{account['id']}", json={"rate_multiplier": 1}))
        wait_until("1x reaches the worker", lambda: listed(bearer(key))["pricing"]["per_1m_tokens"]["input"] == 2.5)
        body = {"model": model, "messages": MESSAGES}
        answer = httpx.post(f"{weir.url}/v1/chat/completions", headers=bearer(key), json=body, timeout=10)
        assert answer.status_code == 200, answer.text
        record = weir.generation(answer.headers["x-weir-request-id"], manager)
        uncached = mock.PROMPT_TOKENS - mock.CACHED_TOKENS
        # microcents: USD per 1M tokens x 100 per token; 250, 125 and 1000 are whole, so the sum is exact
        assert record["cost_microcents"] == uncached * 250 + mock.CACHED_TOKENS * 125 + mock.COMPLETION_TOKENS * 1000
    finally:
        reset = ok(admin.patch(f"/models/{model}", json={"price": None}))
    assert reset["prices_set"] is False and reset["price_usd_per_1m_tokens"]["input"] == 0.123
    wait_until("the reset reaches the worker", lambda: listed()["pricing"] == configured)
