"""`Idempotency-Key` on POST: a retried request gets the first answer and writes nothing new.

A view opts in with one line, `class PostViewSet(IdempotentMixin, ModelViewSet)`. Then, for a
POST carrying the header:

- The caller is known (the hook runs after DRF's authentication, permissions and throttles):
  the scope is the user (`user:<id>`, whether by token, API key or session), or for anonymous
  callers their address (`ip:<address>`, config.http.client_address).
- The key (1 to 255 printable ASCII characters, else 400) is claimed in its own committed row
  before the view runs; a concurrent request with the same key gets 409 `conflict` ("still
  being processed", `Retry-After: 1`). The same key with another method, path, query or body
  is a 409 too. Bodies compare by content, not bytes: `{"a":1,"b":2}` and `{"b": 2, "a": 1}`
  are the same body.
- A success (status below 400) is stored: status, body and the headers in REPLAYED_HEADERS.
  Retries within 24 h get it back with `Idempotent-Replayed: true`. Cookies are never stored.
- A failure (status 400 or more, or an exception) releases the key, so a retry runs anew. An
  error means nothing was written, so there is nothing to protect; this differs from Stripe,
  which also replays its 4xx answers.

Endpoints whose answers carry credentials (tokens, tickets) do not take part; they say why in
`idempotency_exempt` and ignore the header. An endpoint whose answer holds a secret only once
(a new API key) names those fields in `idempotency_redacted_fields`: they are stored as null,
so a replay confirms the object that was created without handing out the secret again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.crypto import salted_hmac
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.idempotency.models import IdempotencyKey
from config.api.idempotency.store import (
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
)
from config.http.client_address import client_ip

logger = logging.getLogger("agora.idempotency")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_LENGTH = 255
REPLAYED_HEADERS = (
    "Content-Type",
    "Content-Language",
    "Content-Disposition",
    "Location",
    "Cache-Control",
    "ETag",
    "Last-Modified",
)
_FINGERPRINT_SALT = "agora.idempotency.fingerprint"
_FILE_CHUNK = 64 * 1024


class IdempotencyConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "This Idempotency-Key was already used with a different request."


class IdempotencyInProgress(IdempotencyConflict):
    default_detail = "A request with this Idempotency-Key is still being processed."
    wait = 1  # becomes Retry-After (config.api.exception_handler)


class _Replay(Exception):
    """Carries a stored answer from `initial()` past the view to the client."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__()
        self.response = response


def idempotency_key(request: Request) -> str | None:
    """The request's key, None without the header; 400 when it is malformed."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not 1 <= len(raw) <= KEY_MAX_LENGTH or not all(" " <= char <= "~" for char in raw):
        raise ValidationError(
            {HEADER: [f"Must be 1 to {KEY_MAX_LENGTH} printable ASCII characters."]}
        )
    return raw


def caller_scope(request: Request) -> str:
    user = request.user
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_ip(request._request)}"


def request_fingerprint(request: Request) -> str:
    """A keyed SHA-256 of what makes two requests the same: method, path, query and body.

    The body is compared parsed (JSON key order and spacing do not matter; uploads compare by
    name, type and content). Keyed with SECRET_KEY, because bodies hold passwords and tokens.
    """
    canonical = json.dumps(
        {
            "method": request.method,
            "path": request.path,
            "query": sorted(request.query_params.lists()),
            "body": _canonical(request.data),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return salted_hmac(_FINGERPRINT_SALT, canonical, algorithm="sha256").hexdigest()


def _canonical(value: Any) -> Any:
    if hasattr(value, "lists"):  # QueryDict, MultiValueDict: form fields and files
        return {key: [_canonical(item) for item in items] for key, items in value.lists()}
    if isinstance(value, Mapping):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, UploadedFile):
        digest = hashlib.sha256()
        for chunk in value.chunks(_FILE_CHUNK):
            digest.update(chunk)
        value.seek(0)
        return {"file": value.name, "type": value.content_type, "sha256": digest.hexdigest()}
    return value


def accepts_idempotency_key(view: Any, method: str) -> bool:
    """Whether `view` honours the header on `method` (the OpenAPI schema asks this)."""
    return isinstance(view, IdempotentMixin) and method.upper() in view.idempotency_methods


def _replay(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(row.response_body), status=row.response_status)
    if "Content-Type" not in row.response_headers:
        del response["Content-Type"]
    for name, value in row.response_headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


# Makes a DRF view honour `Idempotency-Key` (module docstring); put it first in the bases. A
# comment, not a docstring: drf-spectacular would describe undocumented views with it.
class IdempotentMixin:
    idempotency_methods: ClassVar[frozenset[str]] = frozenset({"POST"})
    # Top-level fields of a JSON answer stored as null: secrets shown once.
    idempotency_redacted_fields: ClassVar[tuple[str, ...]] = ()

    _idempotency_claim: IdempotencyKey | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if request.method not in self.idempotency_methods:
            return
        key = idempotency_key(request)
        if key is None:
            return
        try:
            claim = idempotency_claim(
                scope=caller_scope(request),
                key=key,
                method=request.method,
                path=request.path,
                fingerprint=request_fingerprint(request),
            )
        except IdempotencyKeyReused:
            raise IdempotencyConflict() from None
        except IdempotencyKeyInProgress:
            raise IdempotencyInProgress() from None
        if claim.replay:
            raise _Replay(_replay(claim.row))
        self._idempotency_claim = claim.row

    def handle_exception(self, exc: Exception) -> HttpResponseBase:
        if isinstance(exc, _Replay):
            return exc.response
        return super().handle_exception(exc)  # type: ignore[misc]

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self._idempotency_claim = None
        try:
            response: HttpResponseBase = super().dispatch(  # type: ignore[misc]
                request, *args, **kwargs
            )
        except BaseException:
            if self._idempotency_claim is not None:
                idempotency_release(claim=self._idempotency_claim)
            raise
        if self._idempotency_claim is not None:
            self._idempotency_settle(self._idempotency_claim, response)
        return response

    def _idempotency_settle(self, claim: IdempotencyKey, response: HttpResponseBase) -> None:
        """Store a success for replays; release the key after a failure.

        A streamed answer cannot be stored, so it releases the key as well. When storing fails
        the client still gets its answer, and the key is released rather than left blocking.
        """
        if response.status_code >= 400 or isinstance(response, StreamingHttpResponse):
            idempotency_release(claim=claim)
            return
        try:
            if isinstance(response, Response) and not response.is_rendered:
                response.render()
            idempotency_complete(
                claim=claim,
                status=response.status_code,
                headers={name: response[name] for name in REPLAYED_HEADERS if name in response},
                body=self._idempotency_redact(response.content),  # type: ignore[attr-defined]
            )
        except Exception:  # the work is done: never turn it into a 500 here
            logger.exception("Could not store an idempotent answer", extra={"scope": claim.scope})
            idempotency_release(claim=claim)

    def _idempotency_redact(self, body: bytes) -> bytes:
        if not self.idempotency_redacted_fields or not body:
            return body
        document = json.loads(body)
        for field in self.idempotency_redacted_fields:
            if field in document:
                document[field] = None
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
