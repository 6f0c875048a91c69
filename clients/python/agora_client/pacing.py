"""Timing: reconnect backoff with full jitter, and the pace of outgoing frames."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable


def full_jitter(
    attempt: int,
    *,
    base: float = 0.5,
    cap: float = 30.0,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds to wait before reconnect `attempt` (0 for the first retry): a uniformly random
    time in [0, min(cap, base * 2**attempt)], so clients dropped together spread out."""
    ceiling = min(cap, base * 2 ** min(attempt, 62))
    return uniform(0.0, ceiling)


class FramePacer:
    """A token bucket for outgoing frames, kept under the server's per-connection limit (20
    frames a second, bursts of 50), whose excess frames are refused and then closed with 4429.
    An upload is mostly binary frames, so it is the usual reason to wait here."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = self.burst
        self.stamp = time.monotonic()

    async def acquire(self) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return
            await asyncio.sleep((1.0 - self.tokens) / self.rate)
