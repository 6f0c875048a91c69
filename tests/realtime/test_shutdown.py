"""A server that stops closes its WebSockets with 1012 (reconnect and resume) and stops at once,
instead of waiting out uvicorn's graceful timeout for handlers that never end (uvicorn says so
when it has to: "timeout graceful shutdown exceeded")."""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.live import LiveServer

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]


def test_stopping_the_server_closes_sockets_with_1012_and_waits_for_no_handler() -> None:
    server = LiveServer("web")
    server.start()
    try:
        ticket = _ticket(server.base_url)
        ws_url = server.base_url.replace("http", "ws") + f"/ws/v1/?ticket={ticket}"
        with connect(ws_url, open_timeout=10) as ws:
            ws.send(json.dumps({"type": "subscribe", "room": "feed", "msg_id": "s"}))
            assert json.loads(ws.recv(timeout=5))["type"] == "ack"
            server.stop()
            with pytest.raises(ConnectionClosed):
                _read_until_closed(ws)
            assert ws.close_code == 1012
    finally:
        server.stop()
    assert "timeout graceful shutdown exceeded" not in server.stopped_output


def _read_until_closed(ws: ClientConnection, frames: int = 100) -> None:
    for _ in range(frames):
        ws.recv(timeout=5)


def _ticket(base_url: str, *, with_user: bool = False) -> Any:
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
        ticket = json.loads(response.read())["ticket"]
    return (ticket, str(user.pk)) if with_user else ticket


@pytest.mark.redis
def test_live_slow_reader_is_dropped_and_the_server_keeps_nothing_for_it() -> None:
    """A client that stops reading (its TCP buffers full) under uvicorn: the frames waiting
    for it stay bounded and the server closes it with 1013 (or drops it, when even the
    close frame cannot be written)."""
    from realtime.broadcast import broadcast

    server = LiveServer("web", WS_SEND_QUEUE_FRAMES="8")
    server.start()
    try:
        ticket, user_id = _ticket(server.base_url, with_user=True)
        ws_url = server.base_url.replace("http", "ws") + f"/ws/v1/?ticket={ticket}"
        with connect(ws_url, open_timeout=10, max_queue=1) as ws:
            for n in range(400):
                # Random, so permessage-deflate cannot shrink it.
                pad = secrets.token_hex(32 * 1024)
                broadcast(f"user:{user_id}", "flood", {"n": n, "pad": pad})
            deadline = time.monotonic() + 20
            while "ws.too_slow" not in server.output() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert "ws.too_slow" in server.output()
            with pytest.raises(ConnectionClosed):
                _read_until_closed(ws, frames=1000)
            assert ws.close_code in (1013, 1006, None)
    finally:
        server.stop()
