"""A job started over HTTP runs on a real worker and its result reaches a WebSocket client."""

from __future__ import annotations

import json
import logging
import time
import urllib.request

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.test import Client

from tasks.selectors import HEARTBEAT_CACHE_KEY
from tasks.tasks import heartbeat_task
from tests.factories import UserFactory, token_pair
from tests.live import live_server
from tests.realtime.helpers import ws_connect

pytestmark = pytest.mark.django_db(transaction=True)


async def test_http_job_runs_on_the_worker_and_its_result_reaches_the_websocket(
    celery_worker, session_cookie, caplog: pytest.LogCaptureFixture
) -> None:
    member, cookie = session_cookie
    ws = await ws_connect(cookie=cookie)
    client = Client()
    await sync_to_async(client.force_login)(member)

    with caplog.at_level(logging.INFO, logger="agora.tasks"):
        response = await sync_to_async(client.post)(
            "/api/v1/demo/jobs",
            {"message": "Grüß Gott, 李雷!"},
            content_type="application/json",
            HTTP_X_REQUEST_ID="demo-request-1",
        )
        frame = await ws.receive_json_from(timeout=15)

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["room"] == f"user:{member.pk}"
    assert frame["type"] == "event"
    assert frame["event"] == "demo.finished"
    assert frame["room"] == f"user:{member.pk}"
    assert frame["data"]["job_id"] == body["job_id"]
    assert frame["data"]["result"]["characters"] == len("Grüß Gott, 李雷!")
    assert frame["data"]["result"]["words"] == 3
    assert frame["data"]["result"]["reversed"] == "!雷李 ,ttoG ßürG"
    assert frame["request_id"] == "demo-request-1"
    finished = [r for r in caplog.records if r.getMessage() == "demo job finished"]
    assert [r.request_id for r in finished] == ["demo-request-1"]
    await ws.disconnect()


async def test_another_users_job_result_does_not_reach_this_socket(
    celery_worker, session_cookie
) -> None:
    member, cookie = session_cookie
    ws = await ws_connect(cookie=cookie)
    other = await sync_to_async(UserFactory)()
    clients = {member: Client(), other: Client()}
    for user, client in clients.items():
        await sync_to_async(client.force_login)(user)

    other_job = await sync_to_async(clients[other].post)(
        "/api/v1/demo/jobs", {"message": "private"}, content_type="application/json"
    )
    own_job = await sync_to_async(clients[member].post)(
        "/api/v1/demo/jobs", {"message": "mine"}, content_type="application/json"
    )
    frame = await ws.receive_json_from(timeout=15)

    assert other_job.status_code == own_job.status_code == 202
    assert frame["data"]["job_id"] == own_job.json()["job_id"]
    assert await ws.receive_nothing(timeout=0.5)
    await ws.disconnect()


def test_heartbeat_task_runs_on_the_worker_and_shows_in_readiness(celery_worker) -> None:
    cache.delete(HEARTBEAT_CACHE_KEY)

    heartbeat_task.delay()

    deadline = time.monotonic() + 15
    while cache.get(HEARTBEAT_CACHE_KEY) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    beat = cache.get(HEARTBEAT_CACHE_KEY)
    assert beat is not None
    ready = Client().get("/health/ready").json()
    assert ready["checks"]["broker"]["last_heartbeat"] == beat


def test_heartbeat_is_scheduled_by_the_database_scheduler() -> None:
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import DatabaseScheduler

    from config.celery import app

    DatabaseScheduler(app=app, lazy=False).setup_schedule()

    entry = PeriodicTask.objects.get(name="heartbeat")
    assert entry.task == "tasks.heartbeat"
    assert entry.enabled
    assert entry.interval is not None


@pytest.mark.live_server
def test_dead_broker_is_a_503_not_a_hang() -> None:
    member = UserFactory()
    token = token_pair(member).access_token

    with live_server(REDIS_URL="redis://127.0.0.1:9/0") as base_url:
        request = urllib.request.Request(
            f"{base_url}/api/v1/demo/jobs",
            data=json.dumps({"message": "hello"}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(request, timeout=30)

    assert failure.value.code == 503
    assert json.loads(failure.value.read())["error"]["code"] == "service_unavailable"
