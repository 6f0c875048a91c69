"""What the SDK raises. Every error is an `AgoraError`."""

from __future__ import annotations

import json
from typing import Any


class AgoraError(Exception):
    """Base class of every error this package raises."""


class NetworkError(AgoraError, ConnectionError):
    """The server could not be reached (refused, reset, timed out): worth retrying later."""


class ApiError(AgoraError):
    """A REST call answered with status >= 400 (the contract's error envelope, parsed)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.request_id = request_id
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, status: int, headers: dict[str, str], body: bytes) -> ApiError:
        try:
            error = json.loads(body)["error"]
        except (ValueError, KeyError, TypeError):
            error = {}
        if not isinstance(error, dict):
            error = {}
        retry_after = headers.get("retry-after")
        return cls(
            status,
            str(error.get("code") or "http_error"),
            str(error.get("message") or body[:200].decode("utf-8", "replace")),
            details=error.get("details"),
            request_id=error.get("request_id") or headers.get("x-request-id"),
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )


class AuthenticationError(ApiError):
    """No usable credentials: not logged in, or the refresh token is dead (log in again)."""


class FrameError(AgoraError):
    """The server answered a frame with an `error` frame carrying the frame's `msg_id`."""

    def __init__(self, frame: dict[str, Any]) -> None:
        self.frame = frame
        self.code = str(frame.get("code", "error"))
        self.message = str(frame.get("message", ""))
        super().__init__(f"{self.code}: {self.message}")


class AckTimeout(AgoraError, TimeoutError):
    """No ack (nor error) for a frame within its timeout."""

    def __init__(self, msg_id: str | int) -> None:
        super().__init__(f"no ack for msg_id {msg_id!r}")
        self.msg_id = msg_id


class QueueFull(AgoraError):
    """The send queue holds `queue_limit` frames not yet acked; the frame was not queued."""


class ConnectionLost(AgoraError, ConnectionError):
    """The socket a connection-scoped frame (subscribe, typing, upload) went out on closed."""

    def __init__(self, code: int | None = None) -> None:
        super().__init__(f"connection lost (close code {code})")
        self.code = code


class ClientClosed(AgoraError):
    """The client stopped: `close()` was called, or it gave up (see `reason`)."""

    def __init__(self, message: str, *, code: int | None = None, reason: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class UploadError(AgoraError):
    """An upload the server refused (`payload_too_large`, `checksum_mismatch`, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
