"""Rate limits: the fixed windows, their counters in the Django cache, and the headers.

DRF's SimpleRateThrottle reads a per-client history list, appends to it and writes it back, so
concurrent requests overwrite each other's hits. Here a hit is `cache.add(key, 0)` then
`cache.incr(key)`, both atomic on Redis and LocMem: N concurrent requests get N distinct counts.

The throttles of config.api.throttles count with `rate_limit_hit` and record their standing on
the Django request (`rate_limit_record`); `RateLimitHeadersMiddleware` copies the tightest one
onto the response as the RateLimit-* headers, error responses included. The ASGI public cache
(config.http.public_cache) counts anonymous hits on the same keys (`current_window`).
"""

from __future__ import annotations

import ipaddress
import math
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from config.http.client_address import trusted_networks

_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
_RATE = re.compile(r"(\d+)/([a-z]+)")
_STANDING_ATTRIBUTE = "_rate_limit_standing"


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
    """The one definition of a rate-limit counter, shared with config.http.public_cache."""
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


def rate_limit_record(request: HttpRequest, standing: RateLimitStanding) -> None:
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


def rate_limit_hit(key: str, timeout: int) -> int:
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
