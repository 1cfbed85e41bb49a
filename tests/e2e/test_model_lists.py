"""The model list and lookup answer in the shape of the SDK that asks: openai, anthropic (anthropic-version) and
google-genai (x-goog-api-key), each listing every configured id and alias. (Lists per key tier:
tests/e2e/test_admission.py.)"""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import MODELS, Weir

NAMES = [name for model_id, aliases, _, _ in MODELS for name in (model_id, *aliases)]


@pytest.fixture(scope="module")
def key(weir: Weir) -> str:
    return weir.new_key("model-lists")


def test_openai_sdk_lists_and_retrieves(weir: Weir, key: str) -> None:
    with openai.OpenAI(base_url=f"{weir.url}/v1", api_key=key, max_retries=0) as client:
        listed = [m.id for m in client.models.list()]
        assert set(NAMES) <= set(listed)
        assert client.models.retrieve("claude-sonnet-test").id == "claude-sonnet-test"
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("no-such-model")


def test_anthropic_sdk_lists_and_retrieves(weir: Weir, key: str) -> None:
    with anthropic.Anthropic(base_url=weir.url, api_key=key, max_retries=0) as client:
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


def test_gemini_shape_on_v1_for_google_clients(weir: Weir, key: str) -> None:
    google = httpx.get(f"{weir.url}/v1/models", headers={"x-goog-api-key": key}).json()
    assert {m["name"] for m in google["models"]} >= {f"models/{n}" for n in NAMES}
    plain = httpx.get(f"{weir.url}/v1/models").json()
    assert plain["object"] == "list" and {m["id"] for m in plain["data"]} >= set(NAMES)
    missing = httpx.get(f"{weir.url}/v1beta/models/no-such-model")
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("headers", "shape"),
    [
        ({"authorization": "Bearer sk-not-a-weir-key"}, "openai"),
        ({"x-api-key": "sk-not-a-weir-key", "anthropic-version": "2023-06-01"}, "anthropic"),
        ({"x-goog-api-key": "not-a-weir-key"}, "gemini"),
    ],
)
def test_a_key_that_is_not_valid_gets_401_in_the_shape_of_its_client(
    weir: Weir, headers: dict[str, str], shape: str
) -> None:
    """A list called with a key is that key's list: a key that is not one is refused, not ignored."""
    for path in ("/v1/models", "/v1/models/gpt-test"):
        answer = httpx.get(f"{weir.url}{path}", headers=headers)
        assert answer.status_code == 401, answer.text
        error = answer.json()["error"]
        if shape == "gemini":
            assert error["status"] == "UNAUTHENTICATED"
        elif shape == "anthropic":
            assert error["type"] == "authentication_error"
        else:
            assert error["code"] == "invalid_api_key"
