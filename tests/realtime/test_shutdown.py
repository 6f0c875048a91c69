"""A server that stops closes its WebSockets with 1012 (reconnect and resume) and stops at once,
instead of waiting out uvicorn's graceful timeout for handlers that never end."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.live import LiveServer

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]


def test_stopping_the_server_closes_sockets_with_1012_and_takes_no_time() -> None:
    server = LiveServer("web")
    server.start()
    try:
        ticket = _ticket(server.base_url)
        ws_url = server.base_url.replace("http", "ws") + f"/ws/v1/?ticket={ticket}"
        with connect(ws_url, open_timeout=10) as ws:
            ws.send(json.dumps({"type": "subscribe", "room": "feed", "msg_id": "s"}))
            assert json.loads(ws.recv(timeout=5))["type"] == "ack"
            started = time.monotonic()
            server.stop()
            stopped_in = time.monotonic() - started
            with pytest.raises(ConnectionClosed):
                _read_until_closed(ws)
            assert ws.close_code == 1012
    finally:
        server.stop()
    assert stopped_in < 5, stopped_in


def _read_until_closed(ws: ClientConnection) -> None:
    for _ in range(100):
        ws.recv(timeout=5)


def _ticket(base_url: str) -> str:
    from django.db import connection

    from accounts.services import login_session_start
    from tests.factories import UserFactory

    user = UserFactory()
    connection.close()  # the server reads the user from the same database file
    token = login_session_start(user=user).access_token
    request = urllib.request.Request(
        f"{base_url}/api/v1/auth/ws-ticket",
        data=b"{}",
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["ticket"]
