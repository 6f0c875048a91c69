"""drf-spectacular hooks."""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular import openapi
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Makes this POST safe to retry: 1 to 255 printable ASCII characters, unique per "
        "request (a UUID, say). Within 24 h the same key with the same body gets the first "
        "successful answer again, with `Idempotent-Replayed: true`, and nothing is written "
        "twice; the same key with another body, or while the first request still runs, is a "
        "409 `conflict`. An error answer releases the key, so a failed request can be retried "
        "with it. Keys are per user (per client address when anonymous)."
    ),
)
IDEMPOTENT_REPLAY_HEADER = {
    "Idempotent-Replayed": {
        "schema": {"type": "string", "enum": ["true"]},
        "description": "Present on a stored answer given again for a repeated Idempotency-Key.",
    }
}
IDEMPOTENCY_CONFLICT = (
    "`conflict`: the Idempotency-Key was used with another request, or that request is still "
    "running (then with `Retry-After`)."
)


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, plus the `Idempotency-Key` header where a view takes it."""

    def get_override_parameters(self) -> list[Any]:
        from config.api.idempotency.mixin import accepts_idempotency_key

        parameters = list(super().get_override_parameters())
        if accepts_idempotency_key(self.view, self.method):
            parameters.append(IDEMPOTENCY_KEY_PARAMETER)
        return parameters

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        # Here rather than in get_description, which @extend_schema(description=…) replaces.
        operation = super().get_operation(*args, **kwargs)
        reason = getattr(self.view, "idempotency_exempt", None)
        if operation is not None and self.method == "POST" and reason:
            note = f"`Idempotency-Key` is ignored here: {reason}"
            description = operation.get("description")
            operation["description"] = f"{description}\n\n{note}" if description else note
        return operation


def document_paths_without_trailing_slash(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Every path is served with and without its slash; the document names the contract's form."""
    result["paths"] = {
        (path.rstrip("/") or "/"): operations for path, operations in result["paths"].items()
    }
    return result


def document_rate_limits(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Every API operation is rate limited (config.api.throttles), so every one may answer 429."""
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


def document_idempotency(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Operations taking `Idempotency-Key` may answer 409 and mark their replays."""
    conflict = {
        "description": IDEMPOTENCY_CONFLICT,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
    }
    for operations in result["paths"].values():
        for operation in operations.values():
            names = {parameter.get("name") for parameter in operation.get("parameters", [])}
            if "Idempotency-Key" not in names:
                continue
            responses = operation["responses"]
            if "409" in responses:
                responses["409"]["description"] += " Or " + IDEMPOTENCY_CONFLICT
            else:
                responses["409"] = copy.deepcopy(conflict)
            for code, response in responses.items():
                if code.startswith("2"):
                    response.setdefault("headers", {}).update(
                        copy.deepcopy(IDEMPOTENT_REPLAY_HEADER)
                    )
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
