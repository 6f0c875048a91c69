"""Probes of the components Agora depends on. Each answers a small dict and never raises."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections

logger = logging.getLogger("agora.health")

PROBE_TIMEOUT_SECONDS = 2.0
# The database probe answers within this, whatever the pool's timeout, the connect timeout or
# a connection that stopped answering mid-query would make it wait; /health/ready runs it
# beside the other checks, so it answers within about the same.
DATABASE_PROBE_TIMEOUT_SECONDS = 1.5


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
    return start_database_check(alias)()


def start_database_check(alias: str = "default") -> Callable[[], dict[str, Any]]:
    """Start `SELECT 1` on a thread of its own; the function returned waits for the answer, at
    most DATABASE_PROBE_TIMEOUT_SECONDS from the start, and reports `TimeoutError` after that.

    A thread, because nothing else bounds a synchronous query on a connection that stopped
    answering. It is a daemon with a connection of its own (Django's are per thread), closed
    when it is done: a probe stuck past its deadline holds no request's thread or connection
    and does not hold up the process's exit.
    """
    started = time.perf_counter()
    done = threading.Event()
    failure: list[BaseException] = []

    def probe() -> None:
        connection = connections[alias]
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except Exception as exc:  # noqa: BLE001 - a probe reports every failure
            failure.append(exc)
        finally:
            # Hands a pooled connection back; this thread ends here.
            connection.close()
            done.set()

    threading.Thread(target=probe, name=f"health-db-{alias}", daemon=True).start()

    def result() -> dict[str, Any]:
        remaining = DATABASE_PROBE_TIMEOUT_SECONDS - (time.perf_counter() - started)
        if not done.wait(max(0.0, remaining)):
            outcome = _failure(
                "database", started, TimeoutError("no answer within the probe's timeout")
            )
        elif failure:
            outcome = _failure("database", started, failure[0])
        else:
            outcome = {"status": "ok", "latency_ms": _elapsed_ms(started)}
        connection = connections[alias]
        outcome["vendor"] = connection.vendor
        outcome["pool"] = _pool_stats(connection)
        return outcome

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


def check_channel_layer() -> dict[str, Any]:
    """The realtime state and fan-out (the contract's name for it is `channel_layer`)."""
    from realtime.backends import backend

    started = time.perf_counter()
    try:
        backend().ping()
    except Exception as exc:  # noqa: BLE001
        return _failure("channel_layer", started, exc)
    return {"status": "ok", "latency_ms": _elapsed_ms(started), "backend": backend().name}


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
    # The database probe runs while the others do: its wait adds nothing to theirs.
    database = start_database_check()
    others = {
        "cache": check_cache(),
        "channel_layer": check_channel_layer(),
        "broker": check_broker(),
    }
    return {"database": database(), **others}
