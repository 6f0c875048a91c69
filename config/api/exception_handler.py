"""DRF's exception handler: every error a view raises becomes the envelope of API.md.

Domain errors (config.core.errors) keep their code and take their status from the one map in
config.http.envelope; DRF's own exceptions are translated to the contract's codes; a database
that cannot be reached is a 503 (config.core.database says which errors mean that); anything
else goes on to the 500 envelope (config.http.middleware).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from config.core.database import DatabaseUnavailable, database_unavailable
from config.core.errors import DomainError
from config.http.body_limit import payload_too_large
from config.http.envelope import (
    CONTRACT_CODES,
    error_body,
    error_headers,
    status_for,
)

# DRF's own exceptions, in the contract's words. Most specific first.
_CODES_BY_EXCEPTION: tuple[tuple[type[exceptions.APIException], str], ...] = (
    (exceptions.ValidationError, "validation_error"),
    (exceptions.ParseError, "malformed_request"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "token_invalid"),
    (exceptions.Throttled, "rate_limited"),
)
# What a 401 tells the client to present, when the view names nothing else.
DEFAULT_AUTHENTICATE_HEADER = 'Bearer realm="api"'


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Known errors become the envelope; unknown ones go on (to the 500 envelope)."""
    if (unavailable := database_unavailable(exc)) is not None:
        # Authentication queries the database too: its failure is this 503, not a 401.
        exc = unavailable
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = payload_too_large()
    if isinstance(exc, DomainError):
        response = _domain_error_response(exc, context)
    elif isinstance(exc, exceptions.APIException):
        response = _api_exception_response(exc)
    else:
        return None
    # Imported here: rest_framework.views loads the settings, which name this module.
    from rest_framework.views import set_rollback

    set_rollback()
    return response


def _domain_error_response(exc: DomainError, context: dict[str, Any]) -> Response:
    status = status_for(exc)
    headers = error_headers(exc)
    if status == 401:
        view, request = context.get("view"), context.get("request")
        header = view.get_authenticate_header(request) if view and request else None
        headers["WWW-Authenticate"] = header or DEFAULT_AUTHENTICATE_HEADER
    response = Response(
        error_body(exc.code, exc.message, exc.details), status=status, headers=headers
    )
    if isinstance(exc, DatabaseUnavailable):
        # config.core.database logged it; Django would add an ERROR line per refused request.
        response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _api_exception_response(exc: exceptions.APIException) -> Response:
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
