"""drf-spectacular plumbing: the schema class, a filter extension and post-processing hooks.

The document must say what the server really does (tests/contract runs schemathesis against
it): every status an operation can answer, and each input's real constraints. What DRF and
django-filter leave out is added here, once for every app:

- a validator with an `openapi_pattern` attribute (accounts.validators) gives its field a
  `pattern`;
- django-filter parameters get their lengths, bounds and patterns, and the date filters
  their two formats;
- every operation that reads a body (or `Idempotency-Key`) may answer 400, 413 and 415; every
  one that reads credentials may answer 401 (a bad token fails even on a public read); every
  unsafe one taking the session cookie may answer 403 (CSRF); every one under /api/v1/ may
  answer 429.
"""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular import openapi
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.drainage import get_override
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

BOUND_KEYWORDS = frozenset({"minLength", "maxLength", "minimum", "maximum", "pattern"})
IDEMPOTENCY_KEY_DESCRIPTION = (
    "Makes this POST safe to retry: 1 to 255 printable ASCII characters, unique per "
    "request (a UUID, say). Within 24 h the same key with the same body gets the first "
    "successful answer again, with `Idempotent-Replayed: true`, and nothing is written "
    "twice; the same key with another body, or while the first request still runs, is a "
    "409 `conflict`. An error answer releases the key, so a failed request can be retried "
    "with it. Keys are per user (per client address when anonymous). A malformed key is a 400."
)
IDEMPOTENT_REPLAY_HEADER = {
    "Idempotent-Replayed": {
        "schema": {"type": "string", "enum": ["true"]},
        "description": "Present on a stored answer given again for a repeated Idempotency-Key.",
    }
}
IDEMPOTENCY_KEY_INVALID = (
    "`validation_error` on `Idempotency-Key`: not 1 to 255 printable ASCII characters."
)
IDEMPOTENCY_CONFLICT = (
    "`conflict`: the Idempotency-Key was used with another request, or that request is still "
    "running (then with `Retry-After`)."
)


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, plus the `Idempotency-Key` header where a view takes it,
    the patterns validators state, and the `openapi_schema_extra` serializers state.

    Some of these override drf-spectacular methods whose names start with an underscore (pinned
    0.30.0; tests/config/test_docs.py and the schema tests of each app notice a change)."""

    def get_override_parameters(self) -> list[Any]:
        from config.api.idempotency.mixin import accepts_idempotency_key

        parameters = list(super().get_override_parameters())
        if accepts_idempotency_key(self.view, self.method):
            parameters.append(idempotency_key_parameter())
        return parameters

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        # A serializer may state what its fields cannot: `openapi_schema_extra`, merged into
        # its schema (`{"additionalProperties": False}` for one that refuses unknown fields).
        schema = super()._map_basic_serializer(serializer, direction)
        _merge(schema, getattr(serializer, "openapi_schema_extra", {}))
        return schema

    def _get_request_for_media_type(self, serializer: Any, direction: str = "request") -> Any:
        # A PATCH body is partial, so drf-spectacular calls it optional; one whose serializer
        # requires something (`openapi_schema_extra`) is a 400 without a body all the same.
        schema, required = super()._get_request_for_media_type(serializer, direction)
        extra = getattr(serializer, "openapi_schema_extra", {})
        return schema, required or bool(extra.get("required") or extra.get("minProperties"))

    def _insert_field_validators(self, field: Any, schema: dict[str, Any]) -> None:
        # drf-spectacular turns only Django's RegexValidator into a `pattern`; ours say theirs.
        super()._insert_field_validators(field, schema)
        if schema.get("type") == "string" and "pattern" not in schema:
            pattern = validators_pattern(field.validators)
            if pattern:
                schema["pattern"] = pattern
        # A raw schema from @extend_schema_field keeps its bounds: drf-spectacular would put
        # `minLength: 1` (a non-blank CharField) or the field's own max_length over them.
        annotation = get_override(field, "field")
        if isinstance(annotation, dict):
            schema.update({k: v for k, v in annotation.items() if k in BOUND_KEYWORDS})

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        # Here rather than in get_description, which @extend_schema(description=…) replaces.
        operation = super().get_operation(*args, **kwargs)
        reason = getattr(self.view, "idempotency_exempt", None)
        if operation is not None and self.method == "POST" and reason:
            note = f"`Idempotency-Key` is ignored here: {reason}"
            description = operation.get("description")
            operation["description"] = f"{description}\n\n{note}" if description else note
        return operation


def _merge(schema: dict[str, Any], extra: dict[str, Any]) -> None:
    """`extra` into `schema`, objects merged key by key (`{"properties": {"x": {...}}}`)."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(schema.get(key), dict):
            _merge(schema[key], value)
        else:
            schema[key] = copy.deepcopy(value)


def idempotency_key_parameter() -> OpenApiParameter:
    from config.api.idempotency.mixin import KEY_MAX_LENGTH

    return OpenApiParameter(
        "Idempotency-Key",
        {"type": "string", "minLength": 1, "maxLength": KEY_MAX_LENGTH, "pattern": "^[ -~]+$"},
        OpenApiParameter.HEADER,
        required=False,
        description=IDEMPOTENCY_KEY_DESCRIPTION,
    )


def validators_pattern(validators: Any) -> str | None:
    """The `pattern` of the first validator that states one (`openapi_pattern`)."""
    for validator in validators or ():
        pattern = getattr(validator, "openapi_pattern", None)
        if pattern:
            return str(pattern)
    return None


class ConstrainedFilterExtension(DjangoFilterExtension):
    """django-filter parameters with their real constraints.

    drf-spectacular's own extension reads only a filter's type (from the model field), so a
    too-long search text or a negative `min_comments` would look valid; and the date filters
    (config.api.filters) take a date as well as a date-time.
    """

    target_class = "django_filters.rest_framework.DjangoFilterBackend"
    match_subclasses = True
    priority = 1

    def resolve_filter_field(
        self, auto_schema: Any, model: Any, filterset_class: Any, field_name: str, filter_field: Any
    ) -> list[dict[str, Any]]:
        from django import forms

        from config.api.filters import DateOrDateTimeFilter

        parameters = super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
        extra = filter_field.extra
        for parameter in parameters:
            schema = parameter["schema"]
            # From a nullable model field; a query parameter is absent or a string, never null.
            schema.pop("nullable", None)
            if isinstance(filter_field, DateOrDateTimeFilter):
                schema.pop("format", None)
                schema["anyOf"] = [{"format": "date"}, {"format": "date-time"}]
            if issubclass(filter_field.field_class, forms.IntegerField):
                schema["type"] = "integer"
                schema.pop("format", None)
            for keyword, option in (
                ("maxLength", "max_length"),
                ("minLength", "min_length"),
                ("maximum", "max_value"),
                ("minimum", "min_value"),
            ):
                if extra.get(option) is not None:
                    schema[keyword] = extra[option]
            pattern = validators_pattern(extra.get("validators"))
            if pattern and schema.get("type") == "string":
                schema["pattern"] = pattern
        return parameters


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
    """Operations taking `Idempotency-Key` may answer 400 (a malformed key) and 409, and mark
    their replays."""
    for operations in result["paths"].values():
        for operation in operations.values():
            names = {parameter.get("name") for parameter in operation.get("parameters", [])}
            if "Idempotency-Key" not in names:
                continue
            responses = operation["responses"]
            for status, description in (
                ("400", IDEMPOTENCY_KEY_INVALID),
                ("409", IDEMPOTENCY_CONFLICT),
            ):
                if status in responses:
                    responses[status]["description"] += " Or " + description
                else:
                    responses[status] = _error_response(description)
            for code, response in responses.items():
                if code.startswith("2"):
                    response.setdefault("headers", {}).update(
                        copy.deepcopy(IDEMPOTENT_REPLAY_HEADER)
                    )
    return result


UNSAFE_METHODS = frozenset({"post", "put", "patch", "delete"})
CSRF_FAILURE = (
    "`permission_denied`: a request authenticated by the session cookie without the "
    "`X-CSRFToken` header."
)


def document_request_failures(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """The refusals every operation of a kind can answer, whatever its view says.

    - A body is parsed before the view sees it (and for the fingerprint of an
      `Idempotency-Key`): malformed JSON or a bad key is a 400, a body over the limit a 413,
      another content type a 415.
    - Credentials are checked before permissions, on public reads too: a bad or expired token
      or API key is a 401, never silently anonymous.
    - The session cookie needs the CSRF header on unsafe methods, else 403.
    """
    for path, operations in result["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            names = {parameter.get("name") for parameter in operation.get("parameters", [])}
            if operation.get("requestBody") or "Idempotency-Key" in names:
                for status in (400, 413, 415):
                    responses.setdefault(str(status), _error_response(ERROR_DESCRIPTIONS[status]))
            security = operation.get("security", [])
            if any(requirement for requirement in security):
                responses.setdefault("401", _error_response(ERROR_DESCRIPTIONS[401]))
            if method in UNSAFE_METHODS and any("cookieAuth" in r for r in security):
                if "403" in responses:
                    if CSRF_FAILURE not in responses["403"]["description"]:
                        responses["403"]["description"] += " Or " + CSRF_FAILURE
                else:
                    responses["403"] = _error_response(CSRF_FAILURE)
    return result


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
    }


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
    410: "`gone`: it existed but expired (a job result after JOB_RESULT_TTL).",
    413: "`payload_too_large`: the body is over the configured limit.",
    415: "`unsupported_media_type`.",
    429: "`rate_limited` or `account_locked`, with `Retry-After` seconds.",
    502: "`upstream_error`: a provider the server depends on keeps failing.",
    503: "`service_unavailable`: a dependency is down.",
}
