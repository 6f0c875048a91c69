"""The request body limit: its one definition, and the ASGI guard that enforces it first.

The limit is Django's `DATA_UPLOAD_MAX_MEMORY_SIZE`. The guard refuses a bigger body before the
server buffers it (a limit enforced later would still let a client fill memory or disk);
behind it, Django's own check (RequestDataTooBig, when DRF reads `request.body`) answers the
same 413 through `payload_too_large()`.

A file upload (`POST /api/v1/uploads`, multipart) may be bigger: `UPLOAD_MAX_BYTES` of file
plus the multipart framing around it. Django's multipart parser does not count files against
`DATA_UPLOAD_MAX_MEMORY_SIZE` (only the other fields), and writes files over
`FILE_UPLOAD_MAX_MEMORY_SIZE` to a temporary file instead of memory; the upload service then
refuses a file over `UPLOAD_MAX_BYTES` with the same 413, whatever its type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

from config.core.context import accept_request_id
from config.core.errors import PayloadTooLarge
from config.http.envelope import error_body, status_for

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(Exception):
    pass


# Paths whose bodies carry a whole file, and the room left for the multipart framing around it
# (boundaries and part headers, the file name among them).
FILE_UPLOAD_PATHS = re.compile(r"^/api/v1/uploads/?$")
MULTIPART_FRAMING_BYTES = 64 * 1024


def body_limit_bytes(path: str = "") -> int:
    """The largest body accepted on `path`."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if FILE_UPLOAD_PATHS.match(path):
        return max(limit, settings.UPLOAD_MAX_BYTES + MULTIPART_FRAMING_BYTES)
    return limit


def payload_too_large(path: str = "") -> PayloadTooLarge:
    """The refusal of a body over the limit, wherever it is noticed; `limit_bytes` is the
    limit the client must keep to (on an upload path, the file's)."""
    if FILE_UPLOAD_PATHS.match(path):
        return PayloadTooLarge(details={"limit_bytes": settings.UPLOAD_MAX_BYTES})
    return PayloadTooLarge(details={"limit_bytes": body_limit_bytes()})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _send_payload_too_large(scope: Scope, send: Send) -> None:
    request_id = accept_request_id(_header(scope, b"x-request-id"))
    error = payload_too_large(scope.get("path", ""))
    body = json.dumps(
        error_body(error.code, error.message, error.details, request_id=request_id)
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status_for(error),
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit_bytes(scope.get("path", ""))
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_payload_too_large(scope, send)
            return

        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await _send_payload_too_large(scope, send)
