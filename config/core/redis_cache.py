"""Django's Redis cache backend with one connection pool per process.

Django keeps cache backends in an asgiref `Local`, so under ASGI every request context builds
a new backend, and with it a new pool and a new TCP connection to Redis (measured: one
connection per request under `make bench`, about 3 ms each). Sharing the pools across backend
instances keeps the connections open. redis-py resets a pool after a fork by itself.

Django also makes a new `redis.Redis` object for every cache call; its constructor fills a
table of ~170 response callbacks, which the profile of a bearer request showed as much CPU as
the rate limiter's own work. A client holds no connection of its own (each command borrows one
from the pool), so one per pool is shared by every thread.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis import ConnectionPool, Redis

_pools: dict[tuple[str, str], ConnectionPool] = {}
_clients: dict[ConnectionPool, Redis] = {}
_pools_lock = threading.Lock()


class SharedPoolRedisCacheClient(RedisCacheClient):
    def _get_connection_pool(self, write: bool) -> ConnectionPool:
        server = self._servers[self._get_connection_pool_index(write)]
        key = (server, repr(sorted(self._pool_options.items())))
        with _pools_lock:
            pool = _pools.get(key)
            if pool is None:
                pool = _pools[key] = self._pool_class.from_url(server, **self._pool_options)
        return pool

    def get_client(self, key: Any = None, *, write: bool = False) -> Redis:
        pool = self._get_connection_pool(write)
        client = _clients.get(pool)
        if client is None:
            with _pools_lock:
                client = _clients.setdefault(pool, self._client(connection_pool=pool))
        return client


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient
