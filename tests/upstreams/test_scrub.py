"""Upstream error text shown to clients never carries credentials and is bounded."""

from __future__ import annotations

import pytest

from weir.upstreams.scrub import MAX_MESSAGE_CHARS, REDACTED, scrub


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Incorrect API key provided: sk-proj-AbCdEf0123456789xyz.", "sk-proj-AbCdEf0123456789xyz"),
        ("invalid x-api-key: sk-ant-api03-AAAAAAAAAAAAAAAA", "sk-ant-api03-AAAAAAAAAAAAAAAA"),
        ("header was Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("API key not valid: AIzaSyD-1234567890abcdefghijklmnop", "AIzaSyD-1234567890abcdefghijklmnop"),
        ('{"api_key": "custom-secret-token-42"}', "custom-secret-token-42"),
        ("x-goog-api-key=whatever-secret-9", "whatever-secret-9"),
        ("your key sk-weir_abcdefghijkl_mnopqrstuvwxyz0123456789ABCDEFG is bad", "sk-weir_abcdefghijkl"),
    ],
)
def test_credential_shapes_are_redacted(text: str, gone: str) -> None:
    out = scrub(text)
    assert gone not in out and REDACTED in out


def test_the_provider_s_own_keys_are_redacted_whatever_their_shape() -> None:
    out = scrub("denied for token plainsecret99 (org x)", ["plainsecret99"])
    assert out == f"denied for token {REDACTED} (org x)"


def test_ordinary_messages_are_kept() -> None:
    text = "The model `gpt-5` does not exist or you do not have access to it."
    assert scrub(text) == text
    assert (
        scrub("Rate limit reached for requests; retry after 20s") == "Rate limit reached for requests; retry after 20s"
    )


def test_messages_are_capped() -> None:
    out = scrub("x" * 10_000)
    assert len(out) < MAX_MESSAGE_CHARS + 20 and out.endswith("(truncated)")
