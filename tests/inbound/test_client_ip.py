"""The client IP behind trusted proxies: X-Forwarded-For is believed only as far as the proxies one trusts."""

from __future__ import annotations

import pytest

from weir.http.client_ip import ClientIP, parse_networks

PROXIES = ClientIP(parse_networks(["10.0.0.0/8", "fd00::/8", "192.0.2.7"]))


@pytest.mark.parametrize(
    ("peer", "xff", "client"),
    [
        ("203.0.113.5", None, "203.0.113.5"),  # no header: the peer
        ("203.0.113.5", b"1.2.3.4", "203.0.113.5"),  # an untrusted peer's header is ignored
        ("10.1.1.1", b"198.51.100.9", "198.51.100.9"),  # one trusted proxy
        ("10.1.1.1", b"6.6.6.6, 198.51.100.9, 10.2.2.2", "198.51.100.9"),  # the client's own entry is not believed
        ("192.0.2.7", b"198.51.100.9:5566", "198.51.100.9"),  # a port on the hop
        ("fd00::1", b"[2001:db8::5]:443", "2001:db8::5"),
        ("::ffff:10.0.0.3", b"198.51.100.9", "198.51.100.9"),  # v4-mapped peer
        ("10.1.1.1", b"10.3.3.3, 10.2.2.2", "10.3.3.3"),  # all trusted: the farthest
        ("10.1.1.1", b"garbage, 198.51.100.9", "198.51.100.9"),
        ("10.1.1.1", b"198.51.100.9, garbage", "10.1.1.1"),  # trust stops at a garbled hop
    ],
)
def test_the_nearest_untrusted_hop_is_the_client(peer: str, xff: bytes | None, client: str) -> None:
    assert PROXIES.of(peer, xff) == client


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert ClientIP(()).of("10.1.1.1", b"198.51.100.9") == "10.1.1.1"


def test_a_bad_cidr_is_named() -> None:
    with pytest.raises(ValueError, match="'10.0.0.0/33'"):
        parse_networks(["10.0.0.0/33"])
