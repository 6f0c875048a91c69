"""Where rooms live: the state every server process shares (history, presence, connection
counts, de-duplication) and the fan-out that carries frames to every process.

Two implementations of one interface (`base.RealtimeBackend`): `RedisBackend` with
`REDIS_URL` (any number of server processes on any number of machines), `MemoryBackend`
without (the embedded mode: one process). `backend()` returns the process's one instance.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings

from realtime.backends.base import RealtimeBackend


@cache
def backend() -> RealtimeBackend:
    if settings.REDIS_URL:
        from realtime.backends.redis import RedisBackend

        return RedisBackend(settings.REDIS_URL)
    from realtime.backends.memory import MemoryBackend

    return MemoryBackend()
