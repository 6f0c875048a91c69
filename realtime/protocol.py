"""The `/ws/v1/` protocol's constants and small pieces: close codes, error frames, the frame
rate limit. docs/websocket.md documents every frame and code for client authors."""

from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings

CLOSE_TOO_BIG = 1009
CLOSE_RESTARTING = 1012
CLOSE_TOO_SLOW = 1013
CLOSE_BAD_FRAME = 4400
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_RATE_LIMITED = 4429

# The contract's limit on one frame (uvicorn enforces it after inflation; checked here too for
# servers that do not).
MAX_FRAME_BYTES = 1024 * 1024
MAX_MSG_ID_LENGTH = 128


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=str)


def error_frame(code: str, message: str, **fields: Any) -> str:
    return encode({"type": "error", "code": code, "message": message, **fields})


class FrameRateLimit:
    """A token bucket per connection: `WS_RATE_PER_SECOND` sustained, `WS_RATE_BURST` at once.

    `allow()` is False for a frame over the limit; `exhausted` turns True when the client
    went on for another whole burst of refused frames (then it is closed with 4429).
    """

    def __init__(self) -> None:
        self.rate = settings.WS_RATE_PER_SECOND
        self.burst = float(settings.WS_RATE_BURST)
        self.tokens = self.burst
        self.stamp = time.monotonic()
        self.refused = 0

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            self.refused = 0
            return True
        self.refused += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.refused > self.burst
