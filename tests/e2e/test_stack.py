"""The whole stack over real sockets: HTTP, a WebSocket client, the worker, the channel layer.

Locally the server runs embedded (worker and beat are threads of daphne); with REDIS_URL it
runs daphne, a Celery worker process and beat, talking through Redis.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest
from django.conf import settings
from django.test import Client
from websockets.sync.client import connect

from tests.factories import PASSWORD, UserFactory, bearer

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]


def _session_cookie(user: object) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def _post_json(url: str, body: dict, **headers: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return response.status, json.loads(response.read())


def test_job_started_over_http_reaches_a_websocket_client_over_tcp(live_url: str) -> None:
    member = UserFactory()
    ws_url = live_url.replace("http://", "ws://") + "/ws/v1/"
    headers = {"Cookie": _session_cookie(member), "Origin": live_url}

    with connect(ws_url, additional_headers=headers, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "ping"}))
        pong = json.loads(ws.recv(timeout=10))
        status, body = _post_json(
            f"{live_url}/api/v1/jobs",
            {"kind": "echo", "params": {"text": "Zoë says 你好"}},
            Authorization=bearer(member),
            **{"X-Request-ID": "e2e-request-7"},
        )
        # The owner's room `user:<id>` is joined on connect: the job's end is told there.
        frame = json.loads(ws.recv(timeout=30))

    assert pong == {"type": "pong"}
    assert status == 202
    assert (frame["event"], frame["room"]) == ("notification", f"user:{member.pk}")
    assert frame["data"]["kind"] == "job_finished"
    assert frame["data"]["data"]["job"] == {"id": body["id"], "kind": "echo", "status": "succeeded"}
    assert frame["request_id"] == "e2e-request-7"


def test_websocket_from_a_foreign_origin_is_closed_4403(live_url: str) -> None:
    member = UserFactory()
    ws_url = live_url.replace("http://", "ws://") + "/ws/v1/"
    headers = {"Cookie": _session_cookie(member), "Origin": "https://evil.example"}

    with connect(ws_url, additional_headers=headers, open_timeout=10) as ws:
        ws.recv_messages  # noqa: B018 - the handshake itself succeeds
        with pytest.raises(Exception) as closed:  # noqa: PT011 - websockets' ConnectionClosed
            ws.recv(timeout=10)

    assert closed.value.rcvd.code == 4403


def test_password_login_ticket_and_websocket_over_tcp(live_url: str) -> None:
    member = UserFactory()
    form = urllib.parse.urlencode(
        {"grant_type": "password", "username": member.email, "password": PASSWORD}
    ).encode()
    request = urllib.request.Request(f"{live_url}/api/v1/auth/token", data=form, method="POST")
    with urllib.request.urlopen(request, timeout=15) as response:
        tokens = json.loads(response.read())
    _, ticket = _post_json(
        f"{live_url}/api/v1/auth/ws-ticket", {}, Authorization=f"Bearer {tokens['access_token']}"
    )
    ws_url = live_url.replace("http://", "ws://") + f"/ws/v1/?ticket={ticket['ticket']}"

    with connect(ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "ping"}))
        pong = json.loads(ws.recv(timeout=10))

    assert tokens["token_type"] == "bearer"
    assert pong == {"type": "pong"}
