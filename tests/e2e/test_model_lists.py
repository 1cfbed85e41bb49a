"""The model list and lookup answer in the shape of the SDK that asks: openai, anthropic (anthropic-version) and
google-genai (x-goog-api-key), each listing every configured id and alias."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import MODELS, Weir

NAMES = [name for model_id, aliases, _, _ in MODELS for name in (model_id, *aliases)]


def test_openai_sdk_lists_and_retrieves(weir: Weir) -> None:
    client = openai.OpenAI(base_url=f"{weir.url}/v1", api_key="unused", max_retries=0)
    listed = [m.id for m in client.models.list()]
    assert set(NAMES) <= set(listed)
    assert client.models.retrieve("claude-sonnet-test").id == "claude-sonnet-test"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_anthropic_sdk_lists_and_retrieves(weir: Weir) -> None:
    client = anthropic.Anthropic(base_url=weir.url, api_key="unused", max_retries=0)
    page = client.models.list()
    listed = [m.id for m in page.data]
    assert set(NAMES) <= set(listed)
    assert all(m.type == "model" and m.display_name for m in page.data)
    assert page.has_more is False
    one = client.models.retrieve("claude-test")
    assert (one.id, one.type) == ("claude-test", "model")
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.models.retrieve("no-such-model")
    assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index,call-overload]


def test_gemini_shape_on_v1_for_google_clients(weir: Weir) -> None:
    google = httpx.get(f"{weir.url}/v1/models", headers={"x-goog-api-key": "unused"}).json()
    assert {m["name"] for m in google["models"]} >= {f"models/{n}" for n in NAMES}
    plain = httpx.get(f"{weir.url}/v1/models").json()
    assert plain["object"] == "list" and {m["id"] for m in plain["data"]} >= set(NAMES)
    missing = httpx.get(f"{weir.url}/v1beta/models/no-such-model")
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"
