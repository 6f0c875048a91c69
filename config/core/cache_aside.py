"""Cache-aside helpers: an unreachable cache is a miss, version counters make invalidation
race-free. Reads fall back to the database and writes never fail a request over the cache."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger("agora.cache")

# What a cache outage raises: redis-py's errors, and socket errors from a dead connection.
CACHE_ERRORS = (RedisError, OSError)


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
    try:
        return cache.get(key, default)
    except CACHE_ERRORS as exc:
        logger.warning("cache read failed for %s: %r", key, exc)
        return default


def cache_get_many(keys: list[str]) -> dict[str, Any]:
    """`cache.get_many` (one round trip on Redis); an unreachable cache finds nothing."""
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


def cache_version_bump(key: str, *, timeout: int | None = None) -> None:
    """Move a version counter on, so every entry keyed on the old version is unreachable.

    Bump after the write commits: a reader that computed an entry from older data stores it
    under the old version, where nobody looks any more. A counter with a `timeout` must outlive
    the entries keyed on it, so an expired counter restarting at 1 finds no stale entry.
    """
    try:
        try:
            cache.incr(key)
        except ValueError:
            cache.add(key, 2, timeout=timeout)
    except CACHE_ERRORS as exc:
        logger.error("cache version bump failed for %s: %r", key, exc)
