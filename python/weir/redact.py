"""Secrets in messages: which configuration settings hold them, and how a message is cleaned of them.

A configuration error, a store's address in a log line or an error: none may quote an API key, the pepper, a header
value or the password in a URL. Values are replaced by ***.
"""

from __future__ import annotations

import re
from typing import Any

# Settings whose values are secrets: a problem message never quotes them (README "Configuration").
_SECRET_VALUES = frozenset(("pepper", "api_keys", "headers", "tokens"))  # whole values: every string inside
_SECRET_URLS = frozenset(("url", "redis_url", "base_url"))  # URLs: their user info
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/?#\s'\"]*)@")


def redact_url(url: str) -> str:
    """`url` with the user info's password (or a token standing alone in it) replaced by ***."""

    def hide(match: re.Match[str]) -> str:
        user, colon, _ = match.group("info").partition(":")
        return f"{match.group('scheme')}{user}:***@" if colon else f"{match.group('scheme')}***@"

    return _USERINFO.sub(hide, url)


def secrets_in(node: Any, secret: bool = False) -> set[str]:
    """The secret strings in the raw configuration: values of secret settings, user info of URL settings."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _SECRET_URLS and isinstance(value, str):
                for match in _USERINFO.finditer(value):
                    found.update((match.group("info"), match.group("info").partition(":")[2]))
            found |= secrets_in(value, secret or key in _SECRET_VALUES)
    elif isinstance(node, list):
        for value in node:
            found |= secrets_in(value, secret)
    elif secret and isinstance(node, str | int | float):
        found.add(str(node))
    return {value for value in found if len(value) >= 4}  # a shorter one would blank out ordinary words


def scrub(problems: list[str], secrets: set[str]) -> list[str]:
    """The problems with every secret value and every URL's user info replaced by ***."""
    out = []
    for problem in problems:
        problem = redact_url(problem)
        for secret in sorted(secrets, key=len, reverse=True):
            for form in (secret, repr(secret)[1:-1]):
                problem = problem.replace(form, "***")
        out.append(problem)
    return out
