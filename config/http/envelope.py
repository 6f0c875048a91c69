"""The error envelope of API.md and the one map from error codes to HTTP statuses.

Every failure under /api/ and /health is rendered here, whoever notices it: the DRF exception
handler (config.api.exception_handler), the middleware that catches what escapes a view
(config.http.middleware), the ASGI body guard, and Django's handler400/403/404/500 below.
Domain errors (config.core.errors) carry a contract `code`; `STATUS_BY_CODE` gives its status.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from config.core.context import current_request_id
from config.core.database import DatabaseUnavailable, database_unavailable
from config.core.errors import DomainError, ServiceUnavailable, TooManyRequests

logger = logging.getLogger("agora.errors")

API_PATH_PREFIXES = ("/api/", "/health")

# The contract's codes (API.md) and their statuses.
STATUS_BY_CODE: dict[str, int] = {
    "validation_error": 400,
    "malformed_request": 400,
    # A chunked upload whose bytes do not hash to the declared SHA-256 (API.md, WebSocket).
    "checksum_mismatch": 400,
    "not_authenticated": 401,
    "token_invalid": 401,  # an error code, not a secret  # nosec B105
    "invalid_credentials": 401,
    "permission_denied": 403,
    "email_not_verified": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    # A job's result file outlived JOB_RESULT_TTL and was purged (API.md, Background jobs).
    "gone": 410,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "account_locked": 429,
    "internal_error": 500,
    "upstream_error": 502,
    "service_unavailable": 503,
}
CONTRACT_CODES = frozenset(STATUS_BY_CODE)


def is_api_path(path: str) -> bool:
    """Paths whose errors are always the JSON envelope, never an HTML page."""
    return path == "/api" or path.startswith(API_PATH_PREFIXES)


def status_for(error: DomainError) -> int:
    """The HTTP status of a domain error, by its code (an unknown code is a 400)."""
    return STATUS_BY_CODE.get(error.code, 400)


def error_body(
    code: str, message: str, details: Any = None, *, request_id: str | None = None
) -> dict[str, Any]:
    """The envelope; the request id is the current one unless given (ASGI layers)."""
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details if details is not None else {},
            "request_id": request_id or current_request_id(),
        }
    }


def error_headers(error: DomainError) -> dict[str, str]:
    """Headers a domain error implies: `Retry-After` for refusals that lift by themselves."""
    if isinstance(error, TooManyRequests | ServiceUnavailable) and error.retry_after:
        return {"Retry-After": str(error.retry_after)}
    return {}


def error_response(status_code: int, code: str, message: str, details: Any = None) -> JsonResponse:
    """The envelope as a plain Django response, for code outside DRF."""
    return JsonResponse(error_body(code, message, details), status=status_code)


def domain_error_response(error: DomainError) -> JsonResponse:
    response = error_response(status_for(error), error.code, error.message, error.details)
    for name, value in error_headers(error).items():
        response[name] = value
    return response


def database_unavailable_response(request: HttpRequest, error: DatabaseUnavailable) -> HttpResponse:
    """The 503 for a database that cannot be reached: the envelope under /api/ and /health,
    a plain page elsewhere (the admin), both with `Retry-After`."""
    if is_api_path(request.path):
        response: HttpResponse = domain_error_response(error)
    else:
        response = HttpResponse(
            render_to_string("503.html"), status=503, headers=error_headers(error)
        )
    # config.core.database logged it; Django would add an ERROR line per refused request.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def internal_error_response(request: HttpRequest, exc: BaseException | None) -> JsonResponse:
    """The 500 envelope: only the request id goes out, the traceback goes to the log."""
    logger.error(
        "Unhandled error on %s %s",
        request.method,
        request.path,
        exc_info=(type(exc), exc, exc.__traceback__) if exc is not None else None,
    )
    response = error_response(
        500,
        "internal_error",
        "The server failed to handle this request; quote the request id when reporting it.",
    )
    # Django would log it a second time, without the request id.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def handler400(request: HttpRequest, exception: Exception | None = None) -> Any:
    """Django's own 400s (a Host header not in ALLOWED_HOSTS, a broken multipart body)."""
    if is_api_path(request.path):
        return error_response(400, "malformed_request", "The request is malformed.")
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception | None = None) -> Any:
    if is_api_path(request.path):
        return error_response(403, "permission_denied", "You may not do this.")
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> Any:
    """Django's CSRF_FAILURE_VIEW: the envelope under the API, Django's page elsewhere."""
    if is_api_path(request.path):
        return error_response(
            403, "permission_denied", f"CSRF check failed: {reason}. Send the X-CSRFToken header."
        )
    from django.views.csrf import csrf_failure as django_csrf_failure

    return django_csrf_failure(request, reason)


def handler404(request: HttpRequest, exception: Exception | None = None) -> Any:
    if is_api_path(request.path):
        return error_response(404, "not_found", "No such resource.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> Any:
    """Django calls it while handling the exception, so the database being down, noticed
    outside a view (in a middleware), still becomes a 503."""
    if (unavailable := database_unavailable(sys.exc_info()[1])) is not None:
        return database_unavailable_response(request, unavailable)
    if is_api_path(request.path):
        return internal_error_response(request, None)
    from django.views.defaults import server_error

    return server_error(request)
