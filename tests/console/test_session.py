"""The console's session cookie (signed, expiring, naming the principal only) and its CSRF tokens."""

from __future__ import annotations

import time

import pytest

from weir.console.session import Session, Sessions, session_secret


@pytest.fixture
def sessions() -> Sessions:
    return Sessions(session_secret(b"test-pepper"))


def test_a_signed_session_reads_back(sessions: Sessions) -> None:
    session = sessions.owner("abcdefghijkl", 7, b"\x01" * 32)
    cookie = sessions.sign(session)
    assert sessions.read(cookie) == session
    assert session.kind == "owner" and session.key_id == "abcdefghijkl" and session.account_id == 7
    assert session.digest == sessions.key_digest(b"\x01" * 32) != sessions.key_digest(b"\x02" * 32)


def test_a_tampered_or_foreign_cookie_is_no_session(sessions: Sessions) -> None:
    cookie = sessions.sign(sessions.operator("ab" * 32))
    assert sessions.read(cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB")) is None
    assert sessions.read(Sessions(session_secret(b"another-pepper")).sign(sessions.operator("ab" * 32))) is None
    assert sessions.read("") is None and sessions.read(None) is None and sessions.read("garbage") is None


def test_a_session_expires(sessions: Sessions, monkeypatch: pytest.MonkeyPatch) -> None:
    cookie = sessions.sign(sessions.operator("cd" * 32))
    assert sessions.read(cookie) is not None
    later = time.time() + sessions.max_age + 5
    monkeypatch.setattr(time, "time", lambda: later)
    assert sessions.read(cookie) is None


def test_each_sign_in_is_a_new_session(sessions: Sessions) -> None:
    first, second = sessions.operator("ef" * 32), sessions.operator("ef" * 32)
    assert first.sid != second.sid and sessions.csrf(first.sid) != sessions.csrf(second.sid)


def test_the_csrf_token_is_the_sessions_own(sessions: Sessions) -> None:
    session = Session(kind="operator", sid="sid-1", digest="x")
    token = sessions.csrf(session.sid)
    assert sessions.csrf_ok("sid-1", token)
    assert not sessions.csrf_ok("sid-2", token)  # another session's
    assert not sessions.csrf_ok("sid-1", "")  # missing
    assert not sessions.csrf_ok("sid-1", None)
    assert not sessions.csrf_ok("sid-1", token[:-1] + ("0" if token[-1] != "0" else "1"))
    assert not sessions.csrf_ok(None, token)  # no session at all
    assert Sessions(session_secret(b"other")).csrf("sid-1") != token


def test_the_sign_in_nonce_is_signed(sessions: Sessions) -> None:
    cookie, nonce = sessions.login_nonce()
    assert sessions.read_login_nonce(cookie) == nonce
    assert sessions.read_login_nonce(cookie + "x") is None
    assert sessions.read_login_nonce(None) is None
    assert sessions.read(cookie) is None  # a nonce is not a session (another salt)
