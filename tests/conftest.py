"""Shared fixtures. Everything here talks to real components: database, cache, broker, ASGI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import shared_task
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import AdminFactory, UserFactory


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-skips",
        action="store_true",
        help="Report every skipped test as failed (CI, where all services must be present).",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL")
    if item.get_closest_marker("redis") and not settings.REDIS_URL:
        pytest.skip("needs Redis: set REDIS_URL")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    if report.skipped and item.config.getoption("--no-skips") and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped, but --no-skips refuses skips here: {report.longrepr}"
    return report


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db: None) -> Any:
    return UserFactory()


@pytest.fixture
def admin_user(db: None) -> Any:
    return AdminFactory()


@pytest.fixture
def user_client(user: Any) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@shared_task(name="tests.wake_worker", ignore_result=True)
def wake_worker_task() -> None:
    """Does nothing: its message wakes a test worker's loop, so it sees it must stop."""


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[Any]:
    """A real Celery worker thread on the configured broker (memory, or Redis in CI)."""
    from celery.contrib.testing.worker import start_worker
    from celery.worker import state

    from config.celery import app

    if settings.REDIS_URL:
        app.control.purge()
    with start_worker(
        app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=15
    ) as worker:
        yield worker
        # Celery's blocking loop notices a stop between two polls of the broker, and polls once
        # more before it stops (2 s each): two messages end both polls at once, which saves
        # 4 s per test that uses a worker.
        state.should_terminate = 0
        for _ in range(2):
            wake_worker_task.apply_async()


@pytest.fixture
def session_cookie(transactional_db: None) -> Any:
    """Log a fresh user in and return (user, Cookie header value) for WebSocket handshakes."""
    from django.test import Client

    member = UserFactory()
    client = Client()
    client.force_login(member)
    return (
        member,
        f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}",
    )


@pytest.fixture(autouse=True)
async def _hang_up_websockets() -> Any:
    """Close every in-process WebSocket a test opened, also when the test failed."""
    yield
    from tests.realtime.helpers import hang_up_all

    await hang_up_all()


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Every test starts with an empty cache, so rate limit counters and the like do not leak.

    On Redis only the cache's own keys go: the broker and the channel layer share its database,
    and FLUSHDB would pull queues and bindings from under a running worker or live server.
    """
    import redis
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        cache.clear()
        return
    with redis.Redis.from_url(settings.CACHES["default"]["LOCATION"]) as client:
        keys = list(client.scan_iter(match=cache.make_key("*"), count=1000))
        if keys:
            client.delete(*keys)
