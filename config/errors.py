"""The error envelope of API.md, rendered for every failure under /api/ and /health.

DRF exceptions go through `exception_handler`; anything else that escapes a view reaches
`ApiExceptionMiddleware` (500) or Django's handler404/handler500. Domain errors subclass
`APIException` with a contract `default_code`, so their code is kept as is.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from config.context import current_request_id

logger = logging.getLogger("agora.errors")

API_PATH_PREFIXES = ("/api/", "/api", "/health")

CONTRACT_CODES = frozenset(
    {
        "validation_error",
        "malformed_request",
        "not_authenticated",
        "token_invalid",
        "invalid_credentials",
        "permission_denied",
        "email_not_verified",
        "not_found",
        "method_not_allowed",
        "conflict",
        "payload_too_large",
        "unsupported_media_type",
        "rate_limited",
        "account_locked",
        "internal_error",
        "upstream_error",
        "service_unavailable",
    }
)

# DRF's own exceptions, in the contract's words. Most specific first.
_CODES_BY_EXCEPTION: tuple[tuple[type[exceptions.APIException], str], ...] = (
    (exceptions.ValidationError, "validation_error"),
    (exceptions.ParseError, "malformed_request"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "token_invalid"),
    (exceptions.Throttled, "rate_limited"),
)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this server accepts."
    default_code = "payload_too_large"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A service this request depends on is unavailable."
    default_code = "service_unavailable"


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith(API_PATH_PREFIXES)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details if details is not None else {},
            "request_id": current_request_id(),
        }
    }


def error_response(status_code: int, code: str, message: str, details: Any = None) -> JsonResponse:
    """The envelope as a plain Django response, for code outside DRF."""
    return JsonResponse(error_body(code, message, details), status=status_code)


def _contract_code(exc: exceptions.APIException) -> str:
    if exc.default_code in CONTRACT_CODES:
        return exc.default_code
    for exception_class, code in _CODES_BY_EXCEPTION:
        if isinstance(exc, exception_class):
            return code
    return str(exc.default_code)


def _message_and_details(exc: exceptions.APIException) -> tuple[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return "Invalid input.", details
    detail = exc.detail
    if isinstance(detail, dict | list):
        return str(exc.default_detail), detail
    return str(detail), {}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler: known errors become the envelope; unknown ones go on to 500."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    if not isinstance(exc, exceptions.APIException):
        return None

    # Imported here: rest_framework.views loads the parser settings, which import this module.
    from rest_framework.views import set_rollback

    set_rollback()
    headers: dict[str, str] = {}
    if auth_header := getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = auth_header
    if wait := getattr(exc, "wait", None):
        headers["Retry-After"] = str(max(1, round(wait)))
    message, details = _message_and_details(exc)
    return Response(
        error_body(_contract_code(exc), message, details),
        status=exc.status_code,
        headers=headers,
    )


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


def handler404(request: HttpRequest, exception: Exception | None = None) -> Any:
    if is_api_path(request.path):
        return error_response(404, "not_found", "No such resource.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> Any:
    if is_api_path(request.path):
        return internal_error_response(request, None)
    from django.views.defaults import server_error

    return server_error(request)
