"""Rate limits per role and for the auth endpoints: fixed-window counters in the Django cache.

DRF's SimpleRateThrottle reads a per-client history list, appends to it and writes it back, so
concurrent requests overwrite each other's hits. Here a hit is `cache.add(key, 0)` then
`cache.incr(key)`, both atomic on Redis and LocMem: N concurrent requests get N distinct counts.

Every limiting throttle records its standing on the Django request; `RateLimitHeadersMiddleware`
copies the tightest one onto the response as the RateLimit-* headers, error responses included.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from config.client_ip import client_ip, trusted_networks
from config.errors import ServiceUnavailable

logger = logging.getLogger("agora.ratelimit")

_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
_RATE = re.compile(r"(\d+)/([a-z]+)")
_STANDING_ATTRIBUTE = "_rate_limit_standing"
_WARNED_ATTRIBUTE = "_rate_limit_cache_warned"


@dataclass(frozen=True)
class Rate:
    limit: int
    window: int  # seconds


@dataclass(frozen=True)
class RateLimitStanding:
    """One throttle's figures for one request, as the RateLimit-* headers report them."""

    limit: int
    remaining: int
    reset: int  # seconds until the window resets, >= 1


@dataclass(frozen=True)
class Window:
    """The fixed window a hit falls in: its counter's cache key, how long the counter is kept
    (it outlives the window, so it cannot expire between creation and increment), and the
    seconds until the window resets."""

    key: str
    timeout: int
    reset: int


def current_window(scope: str, identity: str, rate: Rate) -> Window:
    """The one definition of a rate-limit counter, shared with config.public_cache."""
    now = time.time()
    number = int(now // rate.window)
    return Window(
        key=f"ratelimit:{scope}:{identity}:{rate.window}:{number}",
        timeout=2 * rate.window,
        reset=max(1, math.ceil((number + 1) * rate.window - now)),
    )


def anonymous_identity(ip: str) -> str:
    """Who a client without credentials is for the limiter: its address (its /64 for IPv6)."""
    return f"ip:{_ip_identity(ip)}"


@lru_cache(maxsize=64)
def parse_rate(text: str) -> Rate:
    """`N/sec|min|hour|day` (or `N/s|m|h|d`) as a Rate."""
    match = _RATE.fullmatch(text.strip().lower().replace(" ", ""))
    if match is None or match[2] not in _UNITS or int(match[1]) < 1:
        raise ImproperlyConfigured(f"invalid rate {text!r}: expected N/sec, N/min, N/hour or N/day")
    return Rate(limit=int(match[1]), window=_UNITS[match[2]])


def configured_rate(scope: str) -> Rate | None:
    """The rate of `scope` in RATE_LIMITS; None (not limited) when it has none."""
    text = settings.RATE_LIMITS.get(scope)
    return parse_rate(text) if text else None


def check_rate_limit_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.Error]:
    """A bad RATE_LIMIT_* or TRUSTED_PROXIES value stops `manage.py`, not every request."""
    errors = []
    for scope in settings.RATE_LIMITS:
        try:
            configured_rate(scope)
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(f"RATE_LIMITS[{scope!r}]: {exc}", id="agora.E001"))
    try:
        trusted_networks(tuple(settings.TRUSTED_PROXIES))
    except ImproperlyConfigured as exc:
        errors.append(checks.Error(str(exc), id="agora.E002"))
    return errors


def rate_limit_headers(request: HttpRequest) -> dict[str, str]:
    """The RateLimit-* headers for the tightest limit a throttle recorded on `request`."""
    standing: RateLimitStanding | None = getattr(request, _STANDING_ATTRIBUTE, None)
    if standing is None:
        return {}
    return {
        "RateLimit-Limit": str(standing.limit),
        "RateLimit-Remaining": str(standing.remaining),
        "RateLimit-Reset": str(standing.reset),
    }


def _record(request: HttpRequest, standing: RateLimitStanding) -> None:
    """Keep the standing with the fewest hits left (on a tie, the later reset)."""
    current: RateLimitStanding | None = getattr(request, _STANDING_ATTRIBUTE, None)
    tightness = (standing.remaining, -standing.reset)
    if current is None or tightness < (current.remaining, -current.reset):
        setattr(request, _STANDING_ATTRIBUTE, standing)


def _ip_identity(ip: str) -> str:
    """IPv6 clients usually hold a whole /64, so the /64 is what gets limited."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        return str(ipaddress.ip_network((address, 64), strict=False))
    return ip


def _hit(key: str, timeout: int) -> int:
    """Count one hit on `key`, created at 0 if missing; returns the new count.

    On Redis this is one round trip (`SET NX EX` and `INCR` pipelined); Django's `add` plus
    `incr` would take three, and on the hot path of every request that showed in `make bench`.
    The key outlives its window (it is only read within it), so it cannot expire between
    creation and increment unless a request stalls for a whole window.
    """
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return _hit_redis(backend, key, timeout)
    for _ in range(2):
        cache.add(key, 0, timeout=timeout)
        try:
            return cache.incr(key)
        except ValueError:
            continue
    raise RuntimeError(f"cache key {key} keeps expiring between add and incr")


def _hit_redis(backend: RedisCache, key: str, timeout: int) -> int:
    full_key = backend.make_and_validate_key(key)
    # The backend's own client: same pool, timeouts and key prefix as every other cache call.
    client = backend._cache.get_client(full_key, write=True)  # type: ignore[attr-defined]
    pipeline = client.pipeline(transaction=False)
    pipeline.set(full_key, 0, ex=timeout, nx=True)
    pipeline.incr(full_key)
    _, count = pipeline.execute()
    return int(count)


def _django_request(request: Request | HttpRequest) -> HttpRequest:
    return getattr(request, "_request", request)


class FixedWindowThrottle(BaseThrottle, ABC):
    """`limit` hits per window for one (scope, identity); subclasses choose both.

    A cache failure goes to `cache_unavailable`, which decides whether to fail open or closed.
    """

    def __init__(self) -> None:
        self._wait: int | None = None

    @abstractmethod
    def scope_and_identity(self, request: Request) -> tuple[str, str]:
        """The rate's scope (a RATE_LIMITS key) and who is counted (user or address)."""

    @abstractmethod
    def cache_unavailable(self, request: Request, scope: str, exc: Exception) -> bool:
        """Without a cache: True lets the request through; raising refuses it."""

    def allow_request(self, request: Request, view: Any) -> bool:
        scope, identity = self.scope_and_identity(request)
        rate = configured_rate(scope)
        if rate is None:
            return True
        window = current_window(scope, identity, rate)
        reset = window.reset
        try:
            count = _hit(window.key, timeout=window.timeout)
        except Exception as exc:  # noqa: BLE001 - any backend error means "cache down"
            return self.cache_unavailable(request, scope, exc)
        remaining = max(0, rate.limit - count)
        _record(_django_request(request), RateLimitStanding(rate.limit, remaining, reset))
        self._wait = reset
        return count <= rate.limit

    def wait(self) -> int | None:
        return self._wait

    @staticmethod
    def _warn_once(request: Request, scope: str, exc: Exception, outcome: str) -> None:
        django_request = _django_request(request)
        if getattr(django_request, _WARNED_ATTRIBUTE, False):
            return
        setattr(django_request, _WARNED_ATTRIBUTE, True)
        logger.warning(
            "Rate limit cache unavailable, %s",
            outcome,
            extra={"scope": scope, "error": f"{type(exc).__name__}: {exc}"},
        )


class RoleRateThrottle(FixedWindowThrottle):
    """The general API limit: per user at the rate of their role, per client IP when anonymous.

    Fails open: without the cache the API keeps serving, unlimited.
    """

    def scope_and_identity(self, request: Request) -> tuple[str, str]:
        user = request.user
        if user is not None and user.is_authenticated:
            return str(getattr(user, "role", "")), f"user:{user.pk}"
        return "anon", anonymous_identity(client_ip(_django_request(request)))

    def cache_unavailable(self, request: Request, scope: str, exc: Exception) -> bool:
        self._warn_once(request, scope, exc, "requests are not limited")
        return True


class AuthRateThrottle(FixedWindowThrottle):
    """The `auth` limit per client IP, for login, registration, password reset and the like.

    Fails closed (503): without the cache nothing would stop password guessing.
    """

    def scope_and_identity(self, request: Request) -> tuple[str, str]:
        return "auth", anonymous_identity(client_ip(_django_request(request)))

    def cache_unavailable(self, request: Request, scope: str, exc: Exception) -> bool:
        self._warn_once(request, scope, exc, "auth requests are refused")
        raise ServiceUnavailable("Rate limiting is unavailable; try again shortly.")
