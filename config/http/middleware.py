"""Django middleware of the cross-cutting pieces: request context, rate limit headers, the
envelope for what escapes a view, and the Content-Security-Policy on every response."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from functools import lru_cache

from csp.constants import HEADER as CSP_HEADER
from csp.constants import HEADER_REPORT_ONLY as CSP_HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

from config.core.context import (
    accept_request_id,
    request_id_var,
    request_origin_var,
)
from config.core.database import database_unavailable
from config.core.errors import DomainError
from config.http.body_limit import payload_too_large
from config.http.client_address import request_origin
from config.http.envelope import (
    database_unavailable_response,
    domain_error_response,
    error_response,
    internal_error_response,
    is_api_path,
)
from config.http.logs import redact_query
from config.http.rate_limits import rate_limit_headers

access_logger = logging.getLogger("agora.access")


def _authenticated_user_id(request: HttpRequest) -> str | None:
    """The user's id if authentication already ran; never triggers a session lookup."""
    user = request.__dict__.get("user")
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    return str(user.pk) if getattr(user, "is_authenticated", False) else None


class RequestContextMiddleware:
    """Gives every request an id (echoed in `X-Request-ID`) and writes one access log line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = accept_request_id(request.headers.get("X-Request-ID"))
        token = request_id_var.set(request_id)
        origin = request_origin(request)
        origin_token = request_origin_var.set(origin)
        request.request_id = request_id  # type: ignore[attr-defined]
        started = time.perf_counter()
        try:
            response = _foreign_host_refusal(request) or self.get_response(request)
            response["X-Request-ID"] = request_id
            query = redact_query(request.META.get("QUERY_STRING", ""))
            access_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    **({"query": query} if query else {}),
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "user": _authenticated_user_id(request),
                    "ip": origin.ip,
                },
            )
            return response
        finally:
            request_origin_var.reset(origin_token)
            request_id_var.reset(token)


def _foreign_host_refusal(request: HttpRequest) -> HttpResponse | None:
    """The 400 envelope for an API request whose Host is not in ALLOWED_HOSTS.

    Django raises DisallowedHost wherever the host is first read, and with DEBUG on it answers
    with its technical page (settings, paths, versions) instead of handler400. Checked here,
    outside every other middleware, API clients get the envelope in every mode.
    """
    if not is_api_path(request.path):
        return None
    try:
        request.get_host()
    except DisallowedHost:
        return error_response(
            400, "malformed_request", "The Host header names a host this server does not serve."
        )
    return None


class RateLimitHeadersMiddleware:
    """Puts the RateLimit-* headers a throttle recorded on the request onto its response.

    Placed outside every other middleware but the request context, so error responses (the
    exception handler's 429, the 500 envelope) get them too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        for name, value in rate_limit_headers(request).items():
            response[name] = value
        return response


class ApiExceptionMiddleware:
    """Turns an exception escaping a view under /api/ or /health into the JSON envelope, and a
    database that cannot be reached into a 503 on every path."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if (unavailable := database_unavailable(exception)) is not None:
            return database_unavailable_response(request, unavailable)
        if not is_api_path(request.path):
            return None
        if isinstance(exception, RequestDataTooBig):
            return domain_error_response(payload_too_large())
        if isinstance(exception, DomainError):
            return domain_error_response(exception)
        return internal_error_response(request, exception)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the policy on every response but Django's debug 500 page,
    and the header text made once.

    django-csp leaves 404 and 500 responses alone when DEBUG is on, for Django's debug pages;
    the 500 page needs inline script, the 404 page does not. Our JSON envelopes under /api/ and
    /health are neither, and like every response they carry the policy.

    django-csp builds the header from the settings for every response (measured: 8 % of the
    CPU of a bearer `users/me`). A response without its own policy parts (no `csp_update`,
    `csp_replace` or `csp_override` decorator, no nonce used) gets the text built once per
    setting, which a `setting_changed` signal (tests) forgets.
    """

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        debug_page = settings.DEBUG and response.status_code in (404, 500)
        if not debug_page:
            for report_only in (False, True):
                self._set_policy(request, response, report_only=report_only)
            if getattr(request, "_csp_nonce", None) is None:
                request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        exempt = getattr(response, "_csp_exempt", False)
        covered = response.status_code == 404 or is_api_path(request.path)
        if CSP_HEADER not in response and covered and not exempt:
            policy = self._policy(request, response, report_only=False)
            if policy:
                response[CSP_HEADER] = policy
        return response

    def _set_policy(
        self, request: HttpRequest, response: HttpResponse, *, report_only: bool
    ) -> None:
        """django-csp's rules: not over a header already set, an exempt response or a path
        under the setting's EXCLUDE_URL_PREFIXES."""
        header = CSP_HEADER_REPORT_ONLY if report_only else CSP_HEADER
        policy = self._policy(request, response, report_only=report_only)
        if not policy or header in response:
            return
        if getattr(response, "_csp_exempt_ro" if report_only else "_csp_exempt", False):
            return
        setting = _CSP_SETTINGS[report_only]
        prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
        if not request.path_info.startswith(tuple(prefixes)):
            response[header] = policy

    def _policy(self, request: HttpRequest, response: HttpResponse, *, report_only: bool) -> str:
        parts = self.get_policy_parts(request=request, response=response, report_only=report_only)
        if (parts.config, parts.update, parts.replace, parts.nonce) == (None, None, None, None):
            return _settings_policy(report_only)
        return build_policy(**asdict(parts), report_only=report_only)


_CSP_SETTINGS = {False: "CONTENT_SECURITY_POLICY", True: "CONTENT_SECURITY_POLICY_REPORT_ONLY"}


@lru_cache(maxsize=2)
def _settings_policy(report_only: bool) -> str:
    """The header text of the settings' policy alone (no per-response parts)."""
    return build_policy(report_only=report_only)


@receiver(setting_changed)
def _settings_policy_forget(*, setting: str, **kwargs: object) -> None:
    if setting in _CSP_SETTINGS.values():
        _settings_policy.cache_clear()
