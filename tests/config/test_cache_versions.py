"""Version counters (config.core.cache_aside): bumped in one round trip on Redis, the same way
on the embedded cache."""

from __future__ import annotations

import pytest
from django.core.cache import cache, caches
from uuid_utils.compat import uuid7

from config.core import cache_aside
from config.core.cache_aside import cache_version, cache_version_bump, cache_versions_bump
from content.read_cache import FEED_VERSION_KEY, post_comments_changed


@pytest.fixture(autouse=True)
def _no_pending_bumps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bumps a simulated outage left pending stay in their test."""
    monkeypatch.setattr(cache_aside, "_pending_bumps", {})
    monkeypatch.setattr(cache_aside, "_pending_retry_at", 0.0)


def test_an_unset_counter_reads_one_and_bumps_to_two() -> None:
    assert cache_version("test:counter") == 1

    cache_version_bump("test:counter")

    assert cache_version("test:counter") == 2


def test_several_counters_move_on_together() -> None:
    cache_version_bump("test:a")

    cache_versions_bump({"test:a": None, "test:b": 60})

    assert (cache_version("test:a"), cache_version("test:b")) == (3, 2)


@pytest.mark.redis
def test_on_redis_a_bump_is_one_round_trip_and_keeps_the_timeout() -> None:
    client = caches["default"]._cache.get_client(write=True)
    key = cache.make_key("test:ttl")
    cache_versions_bump({"test:warm": None})  # a fresh Redis loads the script first
    calls = []
    original = client.connection_pool.get_connection

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return original(*args, **kwargs)

    client.connection_pool.get_connection = counting
    try:
        cache_versions_bump({"test:ttl": 300, "test:forever": None})
    finally:
        del client.connection_pool.get_connection

    assert len(calls) == 1
    assert 0 < client.ttl(key) <= 300
    assert client.ttl(cache.make_key("test:forever")) == -1
    cache_versions_bump({"test:ttl": 300})
    assert cache.get("test:ttl") == 3


def test_a_cache_outage_never_fails_the_bump(settings: object) -> None:
    settings.CACHES = {  # type: ignore[attr-defined]
        "default": {
            "BACKEND": "config.core.redis_cache.SharedPoolRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }

    cache_versions_bump({"test:down": None})

    assert cache_version("test:down") == 1


def _cache_down(settings: object) -> None:
    settings.CACHES = {  # type: ignore[attr-defined]
        "default": {
            "BACKEND": "config.core.redis_cache.SharedPoolRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }


def test_a_bump_lost_to_an_outage_is_made_once_the_cache_answers(settings: object) -> None:
    """A cache that comes back with its entries (a restart that reloads its snapshot) must not
    serve what the writes made during the outage retired."""
    working = settings.CACHES  # type: ignore[attr-defined]
    _cache_down(settings)
    cache_versions_bump({"test:lost": None})
    settings.CACHES = working  # type: ignore[attr-defined]

    cache_version("test:other")  # any read of this process finds the cache again

    assert cache_version("test:lost") == 2


def test_a_comment_write_during_an_outage_retires_the_post_and_feed_entries(
    settings: object,
) -> None:
    post_id = uuid7()
    working = settings.CACHES  # type: ignore[attr-defined]
    _cache_down(settings)
    post_comments_changed(post_id)
    settings.CACHES = working  # type: ignore[attr-defined]

    cache_version_bump("test:unrelated")  # any bump of this process makes the lost ones first

    assert cache_version(f"content:post:{post_id}:version") == 2
    assert cache_version(FEED_VERSION_KEY) == 2
