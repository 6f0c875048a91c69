"""Domain errors: what a service or selector refuses, in words any caller can show.

Plain Python, no HTTP: the admin shows them as messages, commands print them, tasks log them,
consumers send them as `error` frames, and the API renders them as the contract's envelope
(config.http.envelope maps each `code` to its HTTP status, in one place). Each app defines its
own errors in its `exceptions.py` by subclassing one of the kinds below and naming its `code`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar


class DomainError(Exception):
    """A refusal with a contract `code`, a human `message` and optional `details`."""

    code: ClassVar[str] = "error"
    default_message: ClassVar[str] = "The request was refused."

    def __init__(self, message: str | None = None, *, details: Mapping[str, Any] | None = None):
        self.message = message or self.default_message
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(self.message)

    def __str__(self) -> str:
        """The message, or the details flattened into one line (`title: Too long.`)."""
        flattened = " ".join(_flatten(self.details))
        return flattened or self.message


class ValidationFailed(DomainError):
    """Bad values; `details` maps each field to its messages (`{"title": ["Too long."]}`)."""

    code = "validation_error"
    default_message = "Invalid input."

    def __init__(self, errors: Mapping[str, Any], message: str | None = None) -> None:
        super().__init__(message, details=errors)


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    default_message = "Authentication credentials were not provided."


class PermissionDenied(DomainError):
    code = "permission_denied"
    default_message = "You may not do this."


class NotFound(DomainError):
    code = "not_found"
    default_message = "No such resource."


class Conflict(DomainError):
    code = "conflict"
    default_message = "This clashes with existing data."


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    default_message = "The request body is larger than this server accepts."


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    default_message = "This content type is not accepted here."


class TooManyRequests(DomainError):
    """A refusal that lifts by itself; `retry_after` seconds (at least 1) say when."""

    code = "rate_limited"
    default_message = "Too many requests; try again later."

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


class ServiceUnavailable(DomainError):
    """A dependency (database, cache, broker, a provider) is down or not configured.

    `retry_after` seconds (at least 1), when given, say when trying again is worth it.
    """

    code = "service_unavailable"
    default_message = "A service this request depends on is unavailable."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))


def _flatten(details: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(details, Mapping):
        for field, inner in details.items():
            label = "" if field in ("non_field_errors", "__all__") else f"{field}: "
            yield from _flatten(inner, f"{prefix}{label}")
    elif isinstance(details, list | tuple):
        for inner in details:
            yield from _flatten(inner, prefix)
    else:
        yield f"{prefix}{details}"
