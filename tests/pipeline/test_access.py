"""A key's access from its tier and its own settings: model patterns, limits merged one by one, IP allow-lists,
the default tier, and the checks made of the key on every call (expiry, address)."""

from __future__ import annotations

import time

import pytest

from weir.config import parse_config
from weir.config.validate import TIER_LIMITS
from weir.errors import IpNotAllowed, KeyExpired
from weir.limits import LIMIT_NAMES, UNLIMITED, Limits
from weir.pipeline.access import OPEN, ModelAccess, Tiers, merged
from weir.pipeline.authenticate import Principal, check_key
from weir.store.records import ApiKey, TierState

CONFIG = """
[auth]
default_tier = "free"
[[tiers]]
name = "free"
models = ["demo-*", "small"]
requests_per_hour = 20
requests_per_day = 100
max_ips = 2
[[tiers]]
name = "all"
requests_per_day = 10000
[[providers]]
name = "p"
dialect = "openai"
base_url = "http://p.test/v1"
[[models]]
id = "demo-a"
routes = [{ provider = "p", model = "x" }]
[[models]]
id = "small"
aliases = ["tiny"]
routes = [{ provider = "p", model = "x" }]
[[models]]
id = "large"
aliases = ["demo-large"]
routes = [{ provider = "p", model = "x" }]
"""


def key(**settings: object) -> ApiKey:
    return ApiKey("kid", 1, "inference", None, b"h", 0, **settings)  # type: ignore[arg-type]


def test_the_tiers_limits_are_the_limiters() -> None:
    assert TIER_LIMITS == LIMIT_NAMES


def test_model_patterns_match_ids_aliases_and_globs() -> None:
    access = ModelAccess(["demo-*", "small", "gpt-4o?"])
    assert access.allows("demo-a")
    assert access.allows("large", ["demo-large"])  # through an alias
    assert access.allows("small") and not access.allows("smaller")
    assert access.allows("gpt-4oX") and not access.allows("gpt-4o")
    assert not access.allows("Demo-a")  # model names are case-sensitive
    assert not ModelAccess([]).allows("demo-a")


def test_merged_replaces_limits_one_by_one() -> None:
    tier = Limits(requests_per_hour=20, requests_per_day=100)
    assert merged(tier, None) is tier
    both = merged(tier, {"requests_per_hour": 50, "max_concurrent": 2})
    assert both == Limits(requests_per_hour=50, requests_per_day=100, max_concurrent=2)
    assert merged(UNLIMITED, {}) is UNLIMITED
    assert merged(UNLIMITED, {"requests_per_hour": None}) is UNLIMITED  # nothing limited: the one constant


def test_a_key_without_a_tier_gets_the_default_tier() -> None:
    tiers = Tiers(parse_config(CONFIG))
    access = tiers.access(key())
    assert access.tier.name == "free"
    assert access.limits == Limits(requests_per_hour=20, requests_per_day=100, max_ips=2)
    assert access.allows_model("demo-a") and access.allows_model("small", ["tiny"])
    assert access.allows_model("large", ["demo-large"])  # through its alias
    assert not access.allows_model("huge", ["big"])


def test_a_keys_own_settings() -> None:
    tiers = Tiers(parse_config(CONFIG))
    access = tiers.access(key(tier="all", limits={"requests_per_minute": 5}, models=["small"], ip_allow=["10.0.0.0/8"]))
    assert access.tier.name == "all"
    assert access.limits == Limits(requests_per_minute=5, requests_per_day=10000)
    assert access.allows_model("small") and not access.allows_model("large")  # its own list narrows "all"
    free = tiers.access(key(models=["large", "demo-a"]))
    assert free.allows_model("demo-a") and not free.allows_model("large")  # it cannot reach past its tier
    assert access.allows_ip("10.1.2.3") and not access.allows_ip("11.0.0.1") and not access.allows_ip(None)
    assert not access.allows_ip("not an address")


def test_a_tier_the_configuration_lost_is_flagged() -> None:
    access = Tiers(parse_config(CONFIG)).access(key(tier="gold"))
    assert access.unknown_tier == "gold" and access.tier.name == "free"


def test_without_tiers_an_unrestricted_key_is_open() -> None:
    tiers = Tiers(parse_config(CONFIG.replace('default_tier = "free"', "")))
    assert tiers.access(key()) is OPEN  # the hot path then checks nothing per call
    assert tiers.access(key(expires_at=1)) is not OPEN
    assert tiers.access(key()).limits is UNLIMITED


def test_expiry_and_the_allow_list_are_checked_on_every_call() -> None:
    tiers = Tiers(parse_config(CONFIG))
    now = int(time.time() * 1000)
    live = Principal("kid", "inference", 1, "acme", tiers.access(key(expires_at=now + 60_000)))
    assert check_key(live, None) is live
    dead = Principal("kid", "inference", 1, "acme", tiers.access(key(expires_at=now - 1)))
    with pytest.raises(KeyExpired, match="expired at") as expired:
        check_key(dead, None)
    assert (expired.value.status, expired.value.code) == (401, "key_expired")
    fenced = Principal("kid", "inference", 1, "acme", tiers.access(key(ip_allow=["192.0.2.0/24", "2001:db8::/32"])))
    assert check_key(fenced, "192.0.2.9") is fenced and check_key(fenced, "2001:db8::1") is fenced
    with pytest.raises(IpNotAllowed, match="203.0.113.5") as refused:
        check_key(fenced, "203.0.113.5")
    assert (refused.value.status, refused.value.code) == (403, "ip_not_allowed")


def test_stored_tier_settings_replace_the_configured_and_go_back(caplog: pytest.LogCaptureFixture) -> None:
    tiers = Tiers(parse_config(CONFIG))
    assert tiers.access(key()).limits.requests_per_hour == 20
    stored = '{"name":"free","description":"","models":null,"requests_per_minute":2,"requests_per_hour":null,'
    stored += '"requests_per_day":null,"tokens_per_minute":null,"tokens_per_day":null,"max_concurrent":null,'
    stored += '"max_ips":null,"price_multiplier":1.5}'
    changes: list[int] = []
    tiers.on_change(lambda: changes.append(len(changes)))  # the authenticator forgets every key's access
    tiers.apply_states([TierState("free", stored, 1), TierState("unknown", stored, 1)])
    tiers.apply_states([TierState("free", stored, 1)])  # the same settings in effect: nothing to forget
    assert changes == [0]
    access = tiers.access(key())  # the default tier, as stored
    assert (access.limits.requests_per_minute, access.limits.requests_per_hour) == (2, None)
    assert access.tier.price_multiplier_ppm == 1_500_000 and access.allows_model("large", ())
    assert "unknown" not in tiers.by_name  # settings for a tier the configuration no longer has are ignored
    assert tiers.access(key(tier="all")).limits.requests_per_day == 10000
    with caplog.at_level("ERROR", logger="weir.access"):
        tiers.apply_states([TierState("free", '{"name": "free", "max_ips": "two"}', 2)])
    assert "tier free: its stored settings are unreadable" in caplog.text
    assert tiers.access(key()).limits.requests_per_hour == 20  # the configured ones
    tiers.apply_states([])
    assert tiers.access(key()).limits == tiers.by_name["free"].limits and tiers.default is tiers.by_name["free"]
    assert changes == [0, 1, 2]
