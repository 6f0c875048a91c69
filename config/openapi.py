"""drf-spectacular hooks."""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


def document_paths_without_trailing_slash(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Every path is served with and without its slash; the document names the contract's form."""
    result["paths"] = {
        (path.rstrip("/") or "/"): operations for path, operations in result["paths"].items()
    }
    return result


def document_rate_limits(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Every API operation is rate limited (config.throttles), so every one may answer 429."""
    response = {
        "description": ERROR_DESCRIPTIONS[429],
        "headers": {
            name: {"schema": {"type": "integer"}, "description": description}
            for name, description in RATE_LIMIT_HEADERS.items()
        },
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
    }
    for path, operations in result["paths"].items():
        if path.startswith("/api/v1/"):
            for operation in operations.values():
                operation["responses"].setdefault("429", copy.deepcopy(response))
    return result


RATE_LIMIT_HEADERS = {
    "Retry-After": "Seconds until a retry can succeed.",
    "RateLimit-Limit": "Requests allowed in the current window.",
    "RateLimit-Remaining": "Requests left in the current window.",
    "RateLimit-Reset": "Seconds until the window resets.",
}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable error code, e.g. `validation_error`.")
    message = serializers.CharField(help_text="Human-readable summary.")
    details = serializers.DictField(help_text="Field name to messages, or other specifics.")
    request_id = serializers.CharField(help_text="Quote it when reporting a problem.")


class ErrorEnvelopeSerializer(serializers.Serializer):
    """The body of every error response (status >= 400) under /api/ and /health."""

    error = ErrorDetailSerializer()


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the given error statuses, all in the envelope's shape."""
    return {
        status: OpenApiResponse(ErrorEnvelopeSerializer, description=ERROR_DESCRIPTIONS[status])
        for status in statuses
    }


ERROR_DESCRIPTIONS = {
    400: "`validation_error` (details per field) or `malformed_request` (body is not JSON).",
    401: "`not_authenticated`, `token_invalid` or `invalid_credentials`.",
    403: "`permission_denied`, or `email_not_verified` for a guest's write.",
    404: "`not_found`.",
    409: "`conflict`: clashes with existing data (a taken username).",
    413: "`payload_too_large`: the body is over the configured limit.",
    415: "`unsupported_media_type`.",
    429: "`rate_limited` or `account_locked`, with `Retry-After` seconds.",
    503: "`service_unavailable`: a dependency is down.",
}
