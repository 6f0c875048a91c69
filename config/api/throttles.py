"""DRF throttles: per role for the API, per client address for the auth endpoints.

The windows, counters and headers are config.http.rate_limits'; here is only who is counted
and what a cache outage means (open for the API, closed for the auth endpoints).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from config.core.errors import ServiceUnavailable
from config.http.client_address import client_ip
from config.http.rate_limits import (
    RateLimitStanding,
    anonymous_identity,
    configured_rate,
    current_window,
    rate_limit_hit,
    rate_limit_record,
)

logger = logging.getLogger("agora.ratelimit")

_WARNED_ATTRIBUTE = "_rate_limit_cache_warned"


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
            count = rate_limit_hit(window.key, timeout=window.timeout)
        except Exception as exc:  # noqa: BLE001 - any backend error means "cache down"
            return self.cache_unavailable(request, scope, exc)
        remaining = max(0, rate.limit - count)
        rate_limit_record(_django_request(request), RateLimitStanding(rate.limit, remaining, reset))
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


class UserScopeRateThrottle(FixedWindowThrottle):
    """A view's own limit per user, on top of the role's: subclasses name the `scope` (a key of
    RATE_LIMITS). Anonymous callers are counted by address. Fails open, as the role limit does.
    """

    scope: str = ""

    def scope_and_identity(self, request: Request) -> tuple[str, str]:
        user = request.user
        if user is not None and user.is_authenticated:
            return self.scope, f"user:{user.pk}"
        return self.scope, anonymous_identity(client_ip(_django_request(request)))

    def cache_unavailable(self, request: Request, scope: str, exc: Exception) -> bool:
        self._warn_once(request, scope, exc, "requests are not limited")
        return True
