"""Probes of the components Agora depends on. Each answers a small dict and never raises."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connections

logger = logging.getLogger("agora.health")

PROBE_TIMEOUT_SECONDS = 2.0


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _failure(component: str, started: float, exc: BaseException) -> dict[str, Any]:
    logger.warning("health probe %s failed: %r", component, exc)
    # The class name tells an operator what broke without leaking hosts or credentials.
    return {
        "status": "fail",
        "latency_ms": _elapsed_ms(started),
        "reason": type(exc).__name__,
    }


def check_database(alias: str = "default") -> dict[str, Any]:
    connection = connections[alias]
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - a probe reports every failure
        result = _failure("database", started, exc)
    else:
        result = {"status": "ok", "latency_ms": _elapsed_ms(started)}
    finally:
        # Hand the connection back to the pool now: a probe that waits on the other checks
        # while holding one would take pool slots from real requests.
        if not connection.in_atomic_block:
            connection.close()
    result["vendor"] = connection.vendor
    result["pool"] = _pool_stats(connection)
    return result


def _pool_stats(connection: Any) -> dict[str, int] | None:
    pool = getattr(connection, "pool", None)
    if pool is None:
        return None
    stats = pool.get_stats()
    return {
        "min": stats.get("pool_min", 0),
        "max": stats.get("pool_max", 0),
        "size": stats.get("pool_size", 0),
        "available": stats.get("pool_available", 0),
        "waiting": stats.get("requests_waiting", 0),
    }


def check_cache() -> dict[str, Any]:
    started = time.perf_counter()
    key = f"health:probe:{time.monotonic_ns()}"
    try:
        cache.set(key, "ok", timeout=10)
        value = cache.get(key)
        cache.delete(key)
        if value != "ok":
            raise RuntimeError("cache did not return the value it was given")
    except Exception as exc:  # noqa: BLE001
        return _failure("cache", started, exc)
    return {
        "status": "ok",
        "latency_ms": _elapsed_ms(started),
        "backend": _backend_name(),
    }


def _backend_name() -> str:
    return settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]


async def _channel_layer_round_trip() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel("health.")
    await layer.send(channel, {"type": "health.probe"})
    message = await asyncio.wait_for(layer.receive(channel), PROBE_TIMEOUT_SECONDS)
    if message.get("type") != "health.probe":
        raise RuntimeError("channel layer returned another message")


def check_channel_layer() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async_to_sync(_channel_layer_round_trip)()
    except Exception as exc:  # noqa: BLE001
        return _failure("channel_layer", started, exc)
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return {"status": "ok", "latency_ms": _elapsed_ms(started), "backend": backend}


def check_broker() -> dict[str, Any]:
    """The broker answers; the last beat heartbeat is reported so a stalled beat shows."""
    from config.celery import app
    from tasks.embedded import embedded_worker_status
    from tasks.selectors import heartbeat_last

    started = time.perf_counter()
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001
        return _failure("broker", started, exc)
    result: dict[str, Any] = {
        "status": "ok",
        "latency_ms": _elapsed_ms(started),
        "transport": app.conf.broker_url.split("://", 1)[0],
        "last_heartbeat": heartbeat_last(),
    }
    if settings.EMBEDDED_WORKER:
        worker = embedded_worker_status()
        result["embedded_worker"] = worker
        if worker != "running":
            result["status"] = "fail"
    return result


def readiness() -> dict[str, dict[str, Any]]:
    return {
        "database": check_database(),
        "cache": check_cache(),
        "channel_layer": check_channel_layer(),
        "broker": check_broker(),
    }
