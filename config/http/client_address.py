"""The client's address, trusting `X-Forwarded-For` only as far as our own proxies wrote it.

Each proxy appends the address it received the request from, so the header reads left to right
from the (claimed) client to the last proxy. Everything left of the first address we do not
control may have been written by the client itself: walk from the right and stop there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from config.core.context import RequestOrigin

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """`TRUSTED_PROXIES` entries (addresses or CIDRs) as networks."""
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)
    except ValueError as exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES holds an invalid entry ({exc})") from exc


def _parse(text: str) -> IPAddress | None:
    """The address, with an IPv4-mapped IPv6 one (dual-stack sockets) as plain IPv4."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(address in network for network in networks)


def client_ip(request: HttpRequest) -> str:
    """The client's address for a Django request (see `client_address`)."""
    return client_address(
        request.META.get("REMOTE_ADDR") or "", request.META.get("HTTP_X_FORWARDED_FOR", "")
    )


def scope_origin(scope: Mapping[str, Any]) -> RequestOrigin:
    """Where an ASGI connection comes from (the layers before Django, WebSockets)."""
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope.get("headers", ())
    }
    peer = (scope.get("client") or ("", 0))[0]
    address = client_address(peer, headers.get("x-forwarded-for", ""))
    return RequestOrigin(ip=address or None, user_agent=headers.get("user-agent", ""))


def request_origin(request: HttpRequest) -> RequestOrigin:
    """Where a Django request comes from: the client's address and its user agent."""
    return RequestOrigin(
        ip=client_ip(request) or None, user_agent=request.headers.get("User-Agent", "")
    )


def client_address(raw_remote_addr: str, forwarded_for: str) -> str:
    """The peer's address, or behind trusted proxies the rightmost forwarded address that is
    not one. For Django requests and for the ASGI layer in front of Django alike.

    Invalid entries in `X-Forwarded-For` are skipped. When every forwarded address is a trusted
    proxy, the leftmost of them is the best we know.
    """
    remote_addr = _parse(raw_remote_addr)
    if remote_addr is None:
        return raw_remote_addr
    networks = trusted_networks(tuple(settings.TRUSTED_PROXIES))
    if not _trusted(remote_addr, networks):
        return str(remote_addr)
    forwarded = forwarded_for.split(",")
    valid = [address for address in map(_parse, reversed(forwarded)) if address is not None]
    for address in valid:
        if not _trusted(address, networks):
            return str(address)
    return str(valid[-1] if valid else remote_addr)
