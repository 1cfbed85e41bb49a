"""The console in a real browser (Debian's chromium, driven by Playwright) against the session's `weir serve`: an
owner signs in with a management key, makes a key and a call with it, finds the call's exact cost and the balance
it took, revokes the key; a form without its CSRF token is refused; an operator tops the account up and the owner
sees it; /pricing lists the models. A screenshot of each page is saved in the test's output folder."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.conftest import PRICE, Weir

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/test installs it)"),
    pytest.mark.parametrize("weir", ["sqlite"], indirect=True),  # the console is one front end: one store suffices
]


# The elements that reach past the viewport's right edge, outside any box that scrolls them (for a failure message)
WIDER_THAN_THE_VIEW = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest('.scroll'))
  .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + Math.round(e.getBoundingClientRect().right))"""


def usd(microcents: int) -> str:
    return "$" + str(Decimal(microcents) / 100_000_000)


def until(what: str, check: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds}s: {what}"
        time.sleep(0.1)


@pytest.fixture
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def test_console_end_to_end(weir: Weir, browser: object, tmp_path: Path) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"console screenshots: {shots}")
    console = f"{weir.url}/console"
    assert weir.admin_token is not None
    operator = {"authorization": f"Bearer {weir.admin_token}"}
    with httpx.Client(base_url=f"{weir.url}/admin/v1", headers=operator) as admin:
        account = admin.post("/accounts", json={"name": f"console-{uuid.uuid4().hex[:8]}", "balance_usd": "5"}).json()
        made = admin.post(f"/accounts/{account['id']}/keys", json={"kind": "management", "name": "console"})
        stranger = admin.post("/accounts", json={"name": f"stranger-{uuid.uuid4().hex[:8]}"}).json()
        theirs = admin.post(f"/accounts/{stranger['id']}/keys", json={"name": "theirs"}).json()
    manager = made.json()["key"]
    opening = account["balance_microcents"]

    owner_context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 1280, "height": 900}, timezone_id="Asia/Tokyo", locale="en-GB"
    )
    page = owner_context.new_page()
    problems: list[str] = []  # script errors and Content-Security-Policy violations, which chromium logs as errors
    page.on("console", lambda m: problems.append(f"{m.text} {m.location}") if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

    # Signing in: the key goes in a password field and a POST body, never in a URL
    page.goto(console)
    assert page.url == f"{console}/login"
    response = page.goto(f"{console}/login")
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert response.headers["x-frame-options"] == "DENY" and response.headers["referrer-policy"] == "no-referrer"
    shot("login")
    page.fill("#secret", manager)
    page.click("form.card button[type=submit]")
    page.wait_for_url(f"{console}/overview")
    assert manager not in page.url
    cookie = next(c for c in owner_context.cookies() if c["name"] == "weir_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and manager not in cookie["value"]
    assert page.text_content("#balance") == usd(opening)

    # A new key, shown once, with a copy button
    page.goto(f"{console}/keys")
    page.fill("#name", "from-the-console")
    page.click("text=Create key")
    key = (page.text_content("#new-key") or "").strip()
    assert key.startswith("sk-weir_")
    assert page.is_visible("button.copy")
    shot("keys-new")

    # A call with it, through the openai SDK; its cost as the generation lookup reports it
    client = openai.OpenAI(base_url=f"{weir.url}/v1", api_key=key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": "hello console"}]
    )
    request_id = raw.headers["x-weir-request-id"]
    cost = weir.generation(request_id, manager)["cost_microcents"]
    assert cost > 0

    # ...found in the usage page with that exact cost
    row = f'tr[data-request-id="{request_id}"]'
    page.goto(f"{console}/usage")
    until("the call in the usage page", lambda: page.reload() is not None and page.query_selector(row) is not None)
    assert page.get_attribute(f"{row} td.cost", "data-microcents") == str(cost)
    assert (page.text_content(f"{row} td.cost") or "").strip() == usd(cost)
    shown = page.text_content(f"{row} time") or ""  # in the viewer's zone (Tokyo), by console.js; UTC in the HTML
    assert shown and "UTC" not in shown and "UTC" in (page.get_attribute(f"{row} time", "title") or "")
    shot("usage")
    # The time filters are typed in the viewer's zone (Tokyo, UTC+9): sent as UTC, shown back in Tokyo's time
    page.fill('input[name="since"]', "2026-12-01T09:00")
    page.click("text=Filter")
    page.wait_for_url("**/usage?*")
    assert "since=2026-12-01T00%3A00%3A00.000Z" in page.url
    assert page.input_value('input[name="since"]') == "2026-12-01T09:00"
    assert page.query_selector(row) is not None  # the call is after that
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: no page scrolls sideways (tables scroll in place)
    for name in ("overview", "keys", "wallet", "models", "usage"):
        page.goto(f"{console}/{name}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name} is {width} px wide at phone width: {page.evaluate(WIDER_THAN_THE_VIEW)}"
    shot("usage-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    key_id = page.text_content(f"{row} td:nth-child(3) code")
    csv = page.request.get(f"{console}/usage.csv?key={key_id}")
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
    assert request_id in csv.text() and str(cost) in csv.text()

    # ...and the balance dropped by it
    page.goto(f"{console}/overview")
    assert page.text_content("#balance") == usd(opening - cost)
    page.wait_for_function("Object.keys(Chart.instances).length === 2")  # both charts drawn by Chart.js
    shot("overview")
    page.goto(f"{console}/wallet")
    assert page.text_content("#balance") == usd(opening - cost)
    shot("wallet")
    page.goto(f"{console}/models")
    assert page.is_visible('tr[data-model="gpt-test"]')
    shot("models")

    # A form posted without its CSRF token is refused, with the session's cookie
    jar = {"weir_console": cookie["value"]}
    refused = httpx.post(f"{console}/keys", data={"name": "forged"}, cookies=jar)
    assert refused.status_code == 403
    refused = httpx.post(f"{console}/keys", data={"name": "forged", "csrf": "0" * 64}, cookies=jar)
    assert refused.status_code == 403

    # Another account's key is not the owner's to revoke, nor to read the usage of
    csrf = page.get_attribute("input[name=csrf]", "value")
    other = httpx.post(f"{console}/keys/{theirs['id']}/revoke", data={"csrf": csrf}, cookies=jar)
    assert other.status_code == 400 and "no active key" in other.text
    with httpx.Client(base_url=f"{weir.url}/admin/v1", headers=operator) as admin:
        assert admin.get(f"/accounts/{stranger['id']}/keys").json()["data"][0]["revoked_at"] is None
    assert "No calls match" in httpx.get(f"{console}/usage?key={theirs['id']}", cookies=jar).text

    # Revoking the key: the SDK call is refused
    page.goto(f"{console}/keys")
    page.click(f'tr[data-key-id="{key_id}"] button:has-text("Revoke")')
    page.wait_for_url(f"{console}/keys?notice=revoked")
    assert "revoked" in (page.text_content(f'tr[data-key-id="{key_id}"]') or "")
    shot("keys-revoked")

    def refused_now() -> bool:
        try:
            client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "again"}])
        except openai.AuthenticationError as exc:
            assert exc.status_code == 401
            return True
        return False

    until("the revoked key refused", refused_now, seconds=5)
    client.close()

    # Revoking a management key ends the sessions signed in with it, on their next page
    page.select_option("#kind", "management")
    page.fill("#name", "second-manager")
    page.click("text=Create key")
    second = (page.text_content("#new-key") or "").strip()
    assert second.startswith("mk-weir_")
    other_context = browser.new_context()  # type: ignore[attr-defined]
    other = other_context.new_page()
    other.goto(f"{console}/login")
    other.fill("#secret", second)
    other.click("form.card button[type=submit]")
    other.wait_for_url(f"{console}/overview")
    second_id = second.removeprefix("mk-weir_")[:12]
    page.click(f'tr[data-key-id="{second_id}"] button:has-text("Revoke")')
    page.wait_for_url(f"{console}/keys?notice=revoked")
    other.goto(f"{console}/wallet")
    assert other.url == f"{console}/login"
    other_context.close()

    # The operator tops the account up; the owner sees it
    operator_context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    op = operator_context.new_page()
    op.on("console", lambda m: problems.append(f"{m.text} {m.location}") if m.type == "error" else None)
    op.goto(f"{console}/login")
    op.fill("#secret", weir.admin_token)
    op.click("form.card button[type=submit]")
    op.wait_for_url(f"{console}/accounts")
    op.screenshot(path=str(shots / "operator-accounts.png"), full_page=True)
    op.goto(f"{console}/accounts/{account['id']}")
    op.fill("#amount_usd", "2.5")
    op.fill("#note", "console test")
    op.click('button:has-text("Top up")')
    op.wait_for_url(f"{console}/accounts/{account['id']}?notice=topup")
    topped = opening - cost + 250_000_000
    assert op.text_content("#balance") == usd(topped)
    op.screenshot(path=str(shots / "operator-account.png"), full_page=True)

    # The same top-up form sent twice (a double click, a resent POST) tops up once
    form = {
        "csrf": op.get_attribute("input[name=csrf]", "value"),
        "idempotency_key": op.get_attribute("input[name=idempotency_key]", "value"),
        "amount_usd": "1",
        "note": "sent twice",
    }
    op_jar = {"weir_console": next(c for c in operator_context.cookies() if c["name"] == "weir_console")["value"]}
    topup_url = f"{console}/accounts/{account['id']}/topup"
    sent = [httpx.post(topup_url, data=form, cookies=op_jar) for _ in range(2)]
    assert [r.headers["location"] for r in sent] == [
        f"/console/accounts/{account['id']}?notice=topup",
        f"/console/accounts/{account['id']}?notice=replayed",
    ]
    topped += 100_000_000
    op.reload()
    assert op.text_content("#balance") == usd(topped)

    # Providers pause and resume; models disable and enable (put back as they were whatever happens)
    try:
        op.goto(f"{console}/operator/providers")
        op.fill('tr[data-provider="nowhere"] input[name=reason]', "console test")
        op.click('tr[data-provider="nowhere"] button:has-text("Pause")')
        assert "paused: console test" in (op.text_content('tr[data-provider="nowhere"]') or "")
        op.click('tr[data-provider="nowhere"] button:has-text("Resume")')
        assert "serving" in (op.text_content('tr[data-provider="nowhere"]') or "")
        op.goto(f"{console}/operator/models")
        op.click('tr[data-model="down-test"] button:has-text("Disable")')
        assert "disabled" in (op.text_content('tr[data-model="down-test"]') or "")
        op.click('tr[data-model="down-test"] button:has-text("Enable")')
        assert "enabled" in (op.text_content('tr[data-model="down-test"]') or "")
    finally:
        with httpx.Client(base_url=f"{weir.url}/admin/v1", headers=operator) as admin:
            admin.post("/providers/nowhere/resume", json={})
            admin.post("/models/down-test/enable", json={})
    for name in ("models", "providers"):
        op.goto(f"{console}/operator/{name}")
        op.screenshot(path=str(shots / f"operator-{name}.png"), full_page=True)
    assert op.is_visible('tr[data-provider="mock"]')
    op.set_viewport_size({"width": 390, "height": 844})  # the operator's pages at phone width too
    for name in ("accounts", f"accounts/{account['id']}", "operator/models", "operator/providers"):
        op.goto(f"{console}/{name}")
        width = op.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name} is {width} px wide at phone width: {op.evaluate(WIDER_THAN_THE_VIEW)}"
    page.goto(f"{console}/wallet")
    assert page.text_content("#balance") == usd(topped)
    assert "console test" in (page.text_content("table") or "")

    # Tables come in pages, by cursor: the ledger one entry a page, newest first
    page.goto(f"{console}/wallet?limit=1")
    seen = []
    while True:
        seen.append(page.text_content("tbody tr td:nth-child(2)"))
        if not page.is_visible("a[rel=next]"):
            break
        page.click("a[rel=next]")
        assert "limit=1" in page.url and "cursor=" in page.url
    assert seen == ["topup", "topup", "usage", "initial"]  # the resent top-up made no entry

    # The operator's pages are not the owner's, and the other way round
    page.goto(f"{console}/accounts")
    assert page.url == f"{console}/overview"

    # The public price list
    page.goto(f"{weir.url}/pricing")
    gpt = page.text_content('tr[data-model="gpt-test"]') or ""
    assert f"${PRICE['input']}" in gpt and f"${PRICE['output']}" in gpt
    shot("pricing")

    # Signing out ends the session
    page.goto(f"{console}/overview")
    page.click("text=Sign out")
    page.wait_for_url(f"{console}/login")
    page.goto(f"{console}/overview")
    assert page.url == f"{console}/login"
    operator_context.close()
    owner_context.close()
    assert not problems, problems
    # Sign-in attempts are limited per address: 10 a minute, then 429 (the last test here to sign in)
    statuses = [httpx.post(f"{console}/login", data={"secret": "wrong"}).status_code for _ in range(11)]
    assert statuses[-1] == 429 and set(statuses[:-1]) <= {403, 429}

    log = (weir.config.parent / "weir.log").read_text()
    assert manager not in log and key not in log and weir.admin_token not in log  # never in a URL or a log
