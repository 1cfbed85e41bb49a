from __future__ import annotations

import math

import pytest

from weir import keys


@pytest.mark.parametrize("kind", ["inference", "management"])
def test_generated_keys_parse_back(kind: keys.KeyKind) -> None:
    plaintext, parts = keys.generate(kind)
    assert keys.parse(plaintext) == parts
    assert plaintext.startswith("sk-" if kind == "inference" else "mk-")


def test_secret_has_at_least_190_bits() -> None:
    assert keys.SECRET_LEN * math.log2(len(keys.ALPHABET)) >= 190


def test_any_single_character_change_is_refused_offline() -> None:
    plaintext, _ = keys.generate("inference")
    for i in range(len(plaintext)):
        for replacement in "0aZ_-":
            if plaintext[i] == replacement:
                continue
            mutated = plaintext[:i] + replacement + plaintext[i + 1 :]
            assert keys.parse(mutated) is None, (i, replacement)


@pytest.mark.parametrize("text", ["", "sk-", "sk-weir_", "Bearer x", "sk-proj-abc", "sk-weir_" + "a" * 52])
def test_malformed_keys(text: str) -> None:
    assert keys.parse(text) is None


def test_hmac_depends_on_the_pepper() -> None:
    _, parts = keys.generate("inference")
    stored = keys.secret_hmac(b"pepper-one", parts.secret)
    assert keys.matches(b"pepper-one", parts.secret, stored)
    assert not keys.matches(b"pepper-two", parts.secret, stored)
    other = "y" if parts.secret[-1] == "x" else "x"
    assert not keys.matches(b"pepper-one", parts.secret[:-1] + other, stored)
