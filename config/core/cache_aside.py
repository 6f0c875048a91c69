"""Cache-aside helpers: an unreachable cache is a miss, version counters make invalidation
race-free. Reads fall back to the database and writes never fail a request over the cache."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.commands.core import Script
from redis.exceptions import RedisError

logger = logging.getLogger("agora.cache")

# What a cache outage raises: redis-py's errors, and socket errors from a dead connection.
CACHE_ERRORS = (RedisError, OSError)

# Version bumps that failed while the cache was unreachable, made by the next bump or cache
# read of this process once it answers (key -> timeout). Without them a cache that comes back
# with its data (a restart that reloads its snapshot, a network blip) would serve entries the
# lost bumps should have retired until their TTL. Bounded: past it, the oldest are dropped.
PENDING_BUMPS_MAX = 50_000
PENDING_BATCH = 1_000
PENDING_RETRY_SECONDS = 1.0
_pending_retry_at = 0.0
_pending_bumps: dict[str, int | None] = {}
_pending_lock = threading.Lock()


def cached(key: str, compute: Callable[[], Any], timeout: int) -> tuple[Any, bool]:
    """Cache-aside: the value of `key`, or `compute()` stored under it (None is not stored).
    Second item: whether the cache had it."""
    value = cache_get(key)
    if value is not None:
        return value, True
    value = compute()
    if value is not None:
        cache_set(key, value, timeout)
    return value, False


def cache_get(key: str, default: Any = None) -> Any:
    """`cache.get` that treats an unreachable cache as a miss: reads fall back to the database."""
    if _pending_bumps:
        cache_bumps_retry()
    try:
        return cache.get(key, default)
    except CACHE_ERRORS as exc:
        logger.warning("cache read failed for %s: %r", key, exc)
        return default


def cache_get_many(keys: list[str]) -> dict[str, Any]:
    """`cache.get_many` (one round trip on Redis); an unreachable cache finds nothing."""
    if _pending_bumps:
        cache_bumps_retry()
    try:
        return cache.get_many(keys)
    except CACHE_ERRORS as exc:
        logger.warning("cache read failed for %s: %r", keys, exc)
        return {}


def cache_set(key: str, value: Any, timeout: int) -> None:
    """`cache.set` that never fails the request; a write that cannot be cached is still served."""
    try:
        cache.set(key, value, timeout)
    except CACHE_ERRORS as exc:
        logger.warning("cache write failed for %s: %r", key, exc)


def cache_delete(*keys: str) -> None:
    """Invalidate `keys`; an outage is logged (entries expire with their TTL at the latest)."""
    try:
        cache.delete_many(keys)
    except CACHE_ERRORS as exc:
        logger.error("cache invalidation failed for %s: %r", keys, exc)


def cache_version(key: str) -> int:
    """The current value of a version counter (1 when unset or unreachable)."""
    value = cache_get(key)
    return value if isinstance(value, int) else 1


# A version counter's bump, for scripts: INCR, or 2 when it is unset (as `cache_version` reads
# an unset counter as 1), with the counter's timeout in seconds (0: none).
LUA_VERSION_BUMP = """
local function version_bump(key, timeout)
  if redis.call('EXISTS', key) == 1 then return redis.call('INCR', key) end
  if tonumber(timeout) > 0 then
    redis.call('SET', key, 2, 'EX', timeout)
  else
    redis.call('SET', key, 2)
  end
  return 2
end
"""
# KEYS: the counters. ARGV: their timeouts.
_VERSIONS_BUMP = (
    LUA_VERSION_BUMP
    + """
for i, key in ipairs(KEYS) do version_bump(key, ARGV[i]) end
return #KEYS
"""
)


class CacheScript:
    """A Lua script run on the cache's Redis in one round trip (EVALSHA), its keys made as
    the cache makes them; None from `run` when the cache is not Redis (the embedded mode),
    so the caller takes its plain path. Values the cache stored are in its serialisation:
    integers as they are, anything else pickled."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._script: Script | None = None

    def run(self, keys: list[str], args: list[Any], *, key_args: int = 0) -> Any:
        """`keys` are cache keys; so are the first `key_args` of `args` (keys the script reads
        without declaring them). Raises CACHE_ERRORS."""
        backend = caches["default"]
        if not isinstance(backend, RedisCache):
            return None
        client = backend._cache.get_client(write=True)
        if self._script is None:
            self._script = client.register_script(self.source)
        made = [backend.make_and_validate_key(key) for key in keys]
        made_args = [backend.make_and_validate_key(arg) for arg in args[:key_args]]
        return self._script(keys=made, args=[*made_args, *args[key_args:]], client=client)


_versions_bump = CacheScript(_VERSIONS_BUMP)


def cache_version_bump(key: str, *, timeout: int | None = None) -> None:
    """Move a version counter on, so every entry keyed on the old version is unreachable.

    Bump after the write commits: a reader that computed an entry from older data stores it
    under the old version, where nobody looks any more. A counter with a `timeout` must outlive
    the entries keyed on it, so an expired counter restarting at 1 finds no stale entry.
    """
    cache_versions_bump({key: timeout})


def cache_versions_bump(keys: dict[str, int | None]) -> None:
    """`cache_version_bump` of several counters (key → timeout), in one round trip on Redis.

    If the cache is unreachable, the bumps wait for a later bump or cache read of this process
    that finds it answering (`cache_bumps_retry`)."""
    pending = _pending_take() if _pending_bumps else {}
    try:
        _versions_bump_now({**pending, **keys})
    except CACHE_ERRORS as exc:
        cache_bumps_later({**pending, **keys})
        logger.error("cache version bump failed for %s: %r", list(keys), exc)
        return
    if pending:
        logger.warning("cache version bumps made after an outage: %d", len(pending))


def _pending_take() -> dict[str, int | None]:
    """The oldest PENDING_BATCH pending bumps, taken out of the pending ones."""
    with _pending_lock:
        batch = dict(list(_pending_bumps.items())[:PENDING_BATCH])
        for key in batch:
            del _pending_bumps[key]
    return batch


def _versions_bump_now(keys: dict[str, int | None]) -> None:
    if _versions_bump.run(list(keys), [timeout or 0 for timeout in keys.values()]) is None:
        for key, timeout in keys.items():
            try:
                cache.incr(key)
            except ValueError:
                cache.add(key, 2, timeout=timeout)


def cache_bumps_later(keys: dict[str, int | None]) -> None:
    """Keep version bumps that could not be made, for `cache_bumps_retry`."""
    with _pending_lock:
        for key, timeout in keys.items():
            _pending_bumps.pop(key, None)
            _pending_bumps[key] = timeout
        while len(_pending_bumps) > PENDING_BUMPS_MAX:
            del _pending_bumps[next(iter(_pending_bumps))]


def cache_bumps_retry() -> None:
    """Make the version bumps an outage left pending, if the cache answers again: a batch at
    a time, tried at most once per PENDING_RETRY_SECONDS while it does not."""
    global _pending_retry_at
    with _pending_lock:
        now = time.monotonic()
        if not _pending_bumps or now < _pending_retry_at:
            return
        _pending_retry_at = now + PENDING_RETRY_SECONDS
    batch = _pending_take()
    try:
        _versions_bump_now(batch)
    except CACHE_ERRORS:
        with _pending_lock:  # back in front, oldest first
            merged = {**batch, **_pending_bumps}
            _pending_bumps.clear()
            _pending_bumps.update(merged)
        return
    with _pending_lock:
        _pending_retry_at = 0.0
    logger.warning("cache version bumps made after an outage: %d", len(batch))
