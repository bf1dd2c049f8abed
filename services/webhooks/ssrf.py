"""The SSRF guard: webhook targets must resolve to public addresses unless the allowlist names them.

The host is resolved when a subscription is created or changed (to refuse early with a clear
message) and again before every delivery, whose connection then goes to the address that was
checked, so a DNS answer that changes in between (rebinding) cannot reach an internal address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""(host, port) -> the IP addresses it resolves to, as strings."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class TargetRefused(Exception):
    """The URL may not be delivered to; ``reason`` names a fragment of services.core.messages.FRAGMENTS."""

    def __init__(self, reason: str, **params: str) -> None:
        self.reason = reason
        self.params = params
        detail = ", ".join(f"{k}={v}" for k, v in params.items())
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True, slots=True)
class Target:
    """A checked destination: where to connect, and the original host for Host/SNI."""

    url: str
    host: str
    port: int
    address: str


def classify(address: IPAddress) -> str | None:
    """The kind of non-public address (``loopback``, ``private``…), or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address) and address.sixtofour is not None:
        # 6to4 (2002::/16) carries an IPv4 address that a 6to4 relay would deliver to: that address
        # decides, alone (Python 3.13's ipaddress calls all of 2002::/16 private, 3.11's none of it).
        return classify(address.sixtofour)
    for kind, flag in (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    ):
        if flag:
            return kind
    if not address.is_global:  # shared address space (100.64/10) and the like
        return "reserved"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return _unmapped(ipaddress.ip_address(host))
    except ValueError:
        return None


def _unmapped(address: IPAddress) -> IPAddress:
    """``::ffff:127.0.0.1`` is 127.0.0.1 for every rule here."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class Guard:
    def __init__(self, allowlist: Sequence[str], resolver: Resolver = system_resolver) -> None:
        self._hosts: frozenset[str] = frozenset()
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        hosts: set[str] = set()
        for entry in (e.strip() for e in allowlist):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        self._hosts = frozenset(hosts)
        self._networks = tuple(networks)
        self._resolver = resolver

    def _allowed(self, address: IPAddress) -> bool:
        return any(address in network for network in self._networks)

    async def check(self, url: str) -> Target:
        """Resolve and validate ``url``; raise TargetRefused with a reason the API can localize."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise TargetRefused("url") from None
        host = (parts.hostname or "").rstrip(".")
        if parts.scheme not in ("http", "https") or not host:
            raise TargetRefused("url")
        port = port or (443 if parts.scheme == "https" else 80)
        literal = _literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                answers = await self._resolver(host, port)
                addresses = [_unmapped(ipaddress.ip_address(a.split("%")[0])) for a in answers]
            except (OSError, UnicodeError, ValueError):
                addresses = []
            if not addresses:
                raise TargetRefused("unresolvable", host=host)
        if host.lower() not in self._hosts:
            for address in addresses:
                kind = classify(address)
                if kind is not None and not self._allowed(address):
                    raise TargetRefused("address_refused", address=str(address), kind=kind)
        return Target(url=url, host=host, port=port, address=str(addresses[0]))
