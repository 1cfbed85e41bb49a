"""The client's IP address: the socket peer, or, when the peer is a proxy the operator trusts
(`server.trusted_proxies`, CIDRs; none by default, so `X-Forwarded-For` is ignored), the nearest hop of
`X-Forwarded-For` that is not itself a trusted proxy, read from the right.

The leftmost entries of `X-Forwarded-For` are whatever the client wrote; only the hops appended by proxies one
trusts can be believed, so the list is walked from the right and the first untrusted address is the client
(reliability.md A12).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import Scope

FORWARDED_FOR = b"x-forwarded-for"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs (or single addresses) as networks; ValueError names a bad one."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{cidr!r} is not an IP address or CIDR network") from exc
    return tuple(networks)


def _address(text: str) -> IPAddress | None:
    text = text.strip().strip('"')
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class ClientIP:
    __slots__ = ("_trusted", "headers")

    def __init__(self, trusted: tuple[Network, ...]) -> None:
        self._trusted = trusted
        self.headers = frozenset((FORWARDED_FOR,)) if trusted else frozenset()  # what `of_request` reads

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str]) -> ClientIP:
        return cls(parse_networks(cidrs))

    def of_request(self, scope: Scope, found: dict[bytes, bytes]) -> str | None:
        """The client's address of a request whose headers `found` holds (read with `headers` among them)."""
        client = scope.get("client")
        return self.of(client[0] if client else None, found.get(FORWARDED_FOR))

    def _is_trusted(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self._trusted)

    def of(self, peer: str | None, forwarded_for: bytes | None) -> str | None:
        """The client's address as text (None when the server gave no peer)."""
        if peer is None:
            return None
        if not self._trusted or forwarded_for is None:
            return peer
        address = _address(peer)
        if address is None or not self._is_trusted(address):
            return peer
        for hop in reversed(forwarded_for.decode("latin-1").split(",")):
            found = _address(hop)
            if found is None:
                return str(address)  # a garbled hop: trust stops at the last good one
            if not self._is_trusted(found):
                return str(found)
            address = found
        return str(address)  # every hop is a trusted proxy: the farthest one is all we know
