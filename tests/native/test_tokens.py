"""weir._native.count_tokens against counts from OpenAI's own tokenizer.

The expected counts were computed once with the `tiktoken` package (0.14.0), offline: its cache directory
(TIKTOKEN_CACHE_DIR) held the vocabulary files bundled in the tiktoken-rs crate, which tiktoken accepted after
checking their SHA-256 against the hashes it pins (so the Rust extension's vocabularies are OpenAI's, byte for
byte). The regex that splits text before BPE is the other half of an encoding; these cases exercise it.
"""

from __future__ import annotations

import threading
import time

import pytest

from weir._native import count_tokens, count_tokens_many

ENCODINGS = ["o200k_base", "cl100k_base"]

# (text, o200k_base, cl100k_base): encode_ordinary lengths from OpenAI's tiktoken.
KNOWN: list[tuple[str, int, int]] = [
    ("hello world", 2, 2),
    ("", 0, 0),
    (" ", 1, 1),
    ("Hello, world!", 4, 4),
    ("<|endoftext|>", 7, 7),
    ("<|endoftext|><|fim_prefix|><|endofprompt|>", 18, 19),
    ("I'll've they're WE'RE it's", 7, 9),
    ("Bonjour ! Il fait 18 °C à Paris.\nÀ bientôt 👋", 15, 17),
    ("日本語のテキスト、中文文本和한국어 텍스트", 15, 21),
    ("Привет, мир! Γειά σου Κόσμε", 13, 19),
    ("مرحبا بالعالم", 4, 10),
    ("🎉🎉🎉 👨\u200d👩\u200d👧\u200d👦 🏳️\u200d🌈", 24, 35),
    ("1234567890 3.14159 -42 1e10 0x1F", 20, 20),
    ("def f(x):\n    return x ** 2  # squares\n\n\n\tindented\r\n", 18, 18),
    ("    leading and trailing spaces    ", 6, 6),
    ("\n\n\n\n", 1, 1),
    ("\r\n\r\n", 1, 1),
    ("a\xa0b\u2003c\u200bd", 7, 8),
    ('{"usage": {"prompt_tokens": 12}, "items": [1, 2, 3]}', 22, 22),
    ("https://example.com/path?query=1&x=%20y#frag", 16, 16),
    ("SELECT * FROM users WHERE id = 42;", 10, 10),
    ("a" * 122, 16, 16),
    ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", 52, 53),
    ("The quick brown fox jumps over the lazy dog.", 10, 10),
    ("ÀÉÎÕÜ àéîõü ß ẞ", 15, 16),
    ("\x00\x01\x7f", 3, 3),
    ("<|im_start|>user\nhi<|im_end|>", 15, 15),
    # Long inputs: one huge piece for the BPE merge, long whitespace runs, many pieces.
    ("a" * 200_000, 25_000, 25_000),
    (" " * 200_000, 1563, 1563),
    ("\n" * 50_000, 3125, 1563),
    ("The quick brown fox jumps over the lazy dog. " * 5000, 50_001, 50_001),
    ("Bonjour 👋 à tous, 1234 fois!\n" * 3000, 33_000, 33_000),
    # Lone surrogates have no UTF-8 form: read through UTF-16 as tiktoken does (U+FFFD each), and a surrogate
    # pair spelled as two code points becomes its character.
    ("a\ud800b\udc00c", 5, 5),
    ("\ud83d\ude00", 1, 2),
]


def short(text: str) -> str:
    return repr(text) if len(text) < 40 else f"{text[:20]!r}...x{len(text)}"


@pytest.mark.parametrize(("text", "o200k", "cl100k"), KNOWN, ids=[short(t) for t, _, _ in KNOWN])
def test_known_counts(text: str, o200k: int, cl100k: int) -> None:
    assert count_tokens(text, "o200k_base") == o200k
    assert count_tokens(text, "cl100k_base") == cl100k


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_many_is_the_sum(encoding: str) -> None:
    texts = [text for text, _, _ in KNOWN]
    want = sum(counts[ENCODINGS.index(encoding)] for _, *counts in KNOWN)
    assert count_tokens_many(texts, encoding) == want
    assert count_tokens_many(tuple(texts), encoding) == want
    assert count_tokens_many([], encoding) == 0


def test_special_token_strings_are_text() -> None:
    # encode_ordinary: "<|endoftext|>" is seven ordinary tokens, never the one special token.
    assert count_tokens("<|endoftext|>", "o200k_base") == 7
    assert count_tokens("x<|endoftext|>y", "cl100k_base") > 3


def test_unknown_encoding() -> None:
    for name in ("p50k_base", "r50k_base", "O200K_BASE", "gpt-4o", ""):
        with pytest.raises(ValueError, match="unknown encoding"):
            count_tokens("hi", name)
        with pytest.raises(ValueError, match="unknown encoding"):
            count_tokens_many(["hi"], name)


def test_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        count_tokens(b"hi", "o200k_base")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        count_tokens_many("hi", "o200k_base")  # a str is not a list of texts
    with pytest.raises(TypeError):
        count_tokens_many(["hi", 3], "o200k_base")  # type: ignore[list-item]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_long_counts_release_the_gil(encoding: str) -> None:
    """The main thread wakes up every millisecond while a worker thread counts the tokens of a long text. Were the
    GIL held, it could not wake up during the count at all (one native call never reaches a point where the
    interpreter switches threads): a str.replace of the same duration gets no wake-up in."""
    text = "Bonjour 👋 à tous, 1234 fois!\n" * 50_000  # 1.6 MB: tens to hundreds of milliseconds
    count_tokens("warm up", encoding)  # the vocabulary is built
    result: list[int] = []
    window: list[float] = []

    def count() -> None:
        window.append(time.perf_counter())
        result.append(count_tokens(text, encoding))
        window.append(time.perf_counter())

    worker = threading.Thread(target=count)
    worker.start()
    wakes: list[float] = []
    while worker.is_alive():
        time.sleep(0.001)
        wakes.append(time.perf_counter())
    worker.join()
    assert result == [550_000]
    start, end = window
    assert end - start > 0.02
    assert any(start + 0.005 < wake < end - 0.005 for wake in wakes)
