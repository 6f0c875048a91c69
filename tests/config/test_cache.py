"""The Redis cache keeps one connection pool per process, however many backends Django makes."""

from __future__ import annotations

import pytest
from django.core.cache import caches

pytestmark = pytest.mark.redis


def test_backends_built_for_different_request_contexts_share_one_pool() -> None:
    """Under ASGI each request context gets its own backend; they must not each dial Redis."""
    first = caches.create_connection("default")
    second = caches.create_connection("default")

    first.set("agora-test:pool", 1)

    assert first is not second
    assert first._cache._get_connection_pool(True) is second._cache._get_connection_pool(True)
    assert second.get("agora-test:pool") == 1
