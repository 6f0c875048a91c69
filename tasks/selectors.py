"""Reads of the background stack."""

from __future__ import annotations

from django.core.cache import cache

HEARTBEAT_CACHE_KEY = "tasks:heartbeat"


def heartbeat_last() -> str | None:
    """When beat last ran the heartbeat (ISO time), if the cache still knows."""
    try:
        return cache.get(HEARTBEAT_CACHE_KEY)
    except Exception:  # noqa: BLE001 - the cache probe reports cache outages itself
        return None
