"""Weir API keys: format, checksum and hashing.

    sk-weir_<id>_<secret><crc>     inference key (begins `sk-`, which some clients check for)
    mk-weir_<id>_<secret><crc>     management key

`id` is a public lookup id (12 base62 chars), `secret` 33 base62 chars (196 bits), `crc` the CRC32 of everything
before it in 6 base62 chars, so a mistyped or truncated key is refused without touching the store. The store
keeps HMAC-SHA256(pepper, secret) only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import string
import zlib

import msgspec

from weir.config import Config
from weir.store.records import KeyKind

ALPHABET = string.digits + string.ascii_letters
ID_LEN = 12
SECRET_LEN = 33
CRC_LEN = 6
PREFIXES: dict[KeyKind, str] = {"inference": "sk-weir_", "management": "mk-weir_"}
_KIND_BY_PREFIX = {v: k for k, v in PREFIXES.items()}
_BODY_LEN = ID_LEN + 1 + SECRET_LEN + CRC_LEN
_ALLOWED = frozenset(ALPHABET)


class ParsedKey(msgspec.Struct, frozen=True):
    kind: KeyKind
    key_id: str
    secret: str


def _random(n: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(n))


def _base62(value: int, width: int) -> str:
    out = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


def _checksum(text: str) -> str:
    return _base62(zlib.crc32(text.encode()), CRC_LEN)


def generate(kind: KeyKind) -> tuple[str, ParsedKey]:
    """A new key: (the plaintext to show once, its parts)."""
    key_id, secret = _random(ID_LEN), _random(SECRET_LEN)
    head = f"{PREFIXES[kind]}{key_id}_{secret}"
    return head + _checksum(head), ParsedKey(kind, key_id, secret)


def parse(key: str) -> ParsedKey | None:
    """The parts of a well-formed key, or None (wrong shape or checksum). Never touches the store."""
    prefix = key[:8]
    kind = _KIND_BY_PREFIX.get(prefix)
    body = key[8:]
    if kind is None or len(body) != _BODY_LEN or body[ID_LEN] != "_":
        return None
    key_id, secret, crc = body[:ID_LEN], body[ID_LEN + 1 : -CRC_LEN], body[-CRC_LEN:]
    if not _ALLOWED.issuperset(key_id) or not _ALLOWED.issuperset(secret):
        return None
    if not hmac.compare_digest(crc, _checksum(key[:-CRC_LEN])):
        return None
    return ParsedKey(kind, key_id, secret)


def secret_hmac(pepper: bytes, secret: str) -> bytes:
    return hmac.new(pepper, secret.encode(), hashlib.sha256).digest()


def matches(pepper: bytes, secret: str, stored: bytes) -> bool:
    return hmac.compare_digest(secret_hmac(pepper, secret), stored)


def load_pepper(config: Config) -> bytes:
    """The HMAC pepper: from the config, else a random one kept in the data directory (made on first use)."""
    if config.auth.pepper:
        return config.auth.pepper.encode()
    path = config.data_path / "pepper"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_hex(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(fresh)
    return fresh
