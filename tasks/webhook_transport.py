"""Sending one webhook request without becoming an SSRF proxy.

The target's host is resolved here, every address it resolves to is checked (private,
loopback, link-local, reserved, multicast and unspecified ranges are refused unless inside
WEBHOOK_ALLOWED_NETWORKS), and the connection goes to the address that was checked, never to a
second resolution of the name (DNS rebinding). The name still travels in the `Host` header and
as the TLS server name, and the certificate is checked against it. No redirect is followed (a
3xx is an answer like any other non-2xx), at most WEBHOOK_RESPONSE_MAX_BYTES of the answer are
read, and the whole exchange, connect to last byte, is cut at WEBHOOK_TIMEOUT_SECONDS by a
watchdog that shuts the socket down (a per-read timeout alone lets a receiver that drips one
byte at a time hold a worker for ever).

Standard library only (`socket`, `ssl`, `http.client`): the one thing a client library would
add, connection pooling, is what this must not do, and owning the socket is what makes the
hard deadline possible.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SCHEMES = {"http": 80, "https": 443}


class TargetRefused(Exception):
    """The URL may not be called: its scheme, its host, or an address it resolves to."""


class SendFailed(Exception):
    """The request did not get an answer: connection refused or reset, TLS, timeout."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    # The answer was longer than WEBHOOK_RESPONSE_MAX_BYTES; the rest was not read.
    truncated: bool


@cache
def _allowed_networks(
    cidrs: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def address_allowed(address: IPAddress) -> bool:
    """Whether a request may go to `address`: a public unicast address, or one inside
    WEBHOOK_ALLOWED_NETWORKS."""
    if any(
        address in network
        for network in _allowed_networks(tuple(settings.WEBHOOK_ALLOWED_NETWORKS))
    ):
        return True
    mapped = getattr(address, "ipv4_mapped", None) or getattr(address, "sixtofour", None)
    if mapped is not None:
        return address_allowed(mapped)
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        or address.is_private
    )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[IPAddress, ...]


def target_resolve(url: str) -> Target:
    """Parse `url`, resolve its host and check every address; raises TargetRefused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise TargetRefused("Not a valid URL.") from error
    if parts.scheme not in SCHEMES:
        raise TargetRefused("Only http and https URLs are allowed.")
    if not parts.hostname:
        raise TargetRefused("The URL has no host.")
    if parts.username or parts.password:
        raise TargetRefused("Credentials in the URL are not allowed.")
    host = parts.hostname
    port = port or SCHEMES[parts.scheme]
    addresses = _resolve(host, port)
    refused = [str(address) for address in addresses if not address_allowed(address)]
    if refused:
        raise TargetRefused(
            f"The host resolves to an address that is not allowed ({', '.join(refused)}): "
            "private, loopback, link-local, reserved and multicast ranges are refused."
        )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=parts.scheme, host=host, port=port, path=path, addresses=addresses)


def _resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    # getaddrinfo takes no timeout: the resolver's own (resolv.conf) bounds it.
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefused("The host name does not resolve.") from error
    addresses: dict[IPAddress, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        addresses[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    if not addresses:
        raise TargetRefused("The host name does not resolve.")
    return tuple(addresses)


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url` under the rules above. Raises TargetRefused before any connection
    when an address is not allowed, SendFailed when no answer came in time."""
    deadline = time.monotonic() + settings.WEBHOOK_TIMEOUT_SECONDS
    target = target_resolve(url)
    sock = _connect(target, deadline)
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, args=(sock,))
    watchdog.daemon = True
    watchdog.start()
    try:
        return _exchange(target, sock, body, headers, deadline)
    except (OSError, http.client.HTTPException) as error:
        if time.monotonic() >= deadline:
            raise SendFailed(f"No answer within {settings.WEBHOOK_TIMEOUT_SECONDS:g} s.") from error
        raise SendFailed(_describe(error)) from error
    finally:
        watchdog.cancel()
        sock.close()


def _connect(target: Target, deadline: float) -> socket.socket:
    last_error: OSError | None = None
    for address in target.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(remaining)
        try:
            sock.connect((str(address), target.port))
        except OSError as error:
            sock.close()
            last_error = error
            continue
        if target.scheme == "https":
            context = ssl.create_default_context()
            try:
                sock = context.wrap_socket(sock, server_hostname=target.host)
            except (OSError, ssl.SSLError) as error:
                sock.close()
                raise SendFailed(_describe(error)) from error
        return sock
    if last_error is None:
        raise SendFailed(f"No answer within {settings.WEBHOOK_TIMEOUT_SECONDS:g} s.")
    raise SendFailed(_describe(last_error))


def _exchange(
    target: Target, sock: socket.socket, body: bytes, headers: dict[str, str], deadline: float
) -> Answer:
    connection_class = (
        http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    )
    # The connection is already open (to the checked address): http.client only formats the
    # request, with the host name in `Host`, and parses the answer.
    connection = connection_class(target.host, target.port)
    connection.sock = sock
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    connection.request("POST", target.path, body=body, headers=headers)
    response = connection.getresponse()
    limit = settings.WEBHOOK_RESPONSE_MAX_BYTES
    content = response.read(limit + 1)
    return Answer(status=response.status, body=content[:limit], truncated=len(content) > limit)


def _shut(sock: socket.socket) -> None:
    """The deadline passed: wake whatever read or write is blocked on the socket."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _describe(error: BaseException) -> str:
    message = str(error).strip()
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
