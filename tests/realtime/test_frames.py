"""Fan-out frames written straight to the socket (realtime.frames), against the real server.

The counters come from the server's own log: each connection's `ws.disconnected` line says how
many frames it wrote directly and how many it queued for the ASGI `send`.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest
from uuid_utils.compat import uuid7
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.sync.client import ClientConnection, connect

from realtime.frames import DirectWriter, text_frame
from tests.live import LiveServer, http_request

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]

LOGS = {"LOG_LEVEL": "INFO", "LOG_FORMAT": "json"}
COMMENTS = 20
WAIT_SECONDS = 30
HIGH_WATER_BYTES = 64 * 1024  # asyncio's and uvloop's default for a transport
FLOOD_FRAME_BYTES = 16 * 1024


@pytest.mark.parametrize(
    "text", ["", "x" * 125, "x" * 126, "é" * 200, "x" * 65535, "x" * 65536, '{"a":"李雷 🎉"}']
)
def test_a_text_frame_is_the_bytes_websockets_would_send(text: str) -> None:
    expected = Frame(Opcode.TEXT, text.encode()).serialize(mask=False)

    assert text_frame(text) == expected


@pytest.mark.parametrize("send", [None, print, lambda message: None])
def test_there_is_no_direct_writer_without_uvicorns_sansio_protocol(send: Any) -> None:
    assert DirectWriter.attach(send) is None


def test_events_written_directly_arrive_whole_and_in_order_among_queued_frames() -> None:
    from tests.content.factories import PostFactory

    with LiveServer("web", **LOGS) as server:
        user = _user()
        post = PostFactory()
        room = f"post:{post.pk}"
        since = str(uuid7())
        with _connect(server, user) as ws:
            ws.send(json.dumps({"type": "subscribe", "room": room, "msg_id": "sub"}))
            _read(ws, lambda frames: any(f.get("msg_id") == "sub" for f in frames))
            for n in range(COMMENTS):
                _comment(server, user, post.pk, f"Müller 李雷 🎉 #{n}")
                ws.send(json.dumps({"type": "ping", "msg_id": f"ping{n}"}))
            texts = _read_texts(ws, lambda frames: _count(frames, "ack") == COMMENTS)
        frames = [json.loads(text) for text in texts]
        events = [f for f in frames if f["type"] == "event"]
        live = [text for text, f in zip(texts, frames, strict=True) if f["type"] == "event"]
        with _connect(server, user) as ws:
            ws.send(json.dumps({"type": "subscribe", "room": room, "since": since}))
            replayed = _read_texts(ws, lambda frames: _count(frames, "resumed") == 1)
        records = _wait_for(server, "ws.disconnected", 2)

    assert [e["data"]["body"] for e in events] == [f"Müller 李雷 🎉 #{n}" for n in range(COMMENTS)]
    assert [e["id"] for e in events] == sorted({e["id"] for e in events})
    assert _count(frames, "pong") == COMMENTS
    assert [text for text in replayed if json.loads(text)["type"] == "event"] == live
    assert records[0]["direct"] > 0
    assert records[1]["direct"] == 0


def test_connections_with_permessage_deflate_are_sent_the_ordinary_way() -> None:
    from tests.content.factories import PostFactory

    with LiveServer("web", WS_COMPRESSION="true", **LOGS) as server:
        user = _user()
        post = PostFactory()
        with _connect(server, user, compression="deflate") as ws:
            assert ws.protocol.extensions
            ws.send(json.dumps({"type": "subscribe", "room": f"post:{post.pk}", "msg_id": "s"}))
            _read(ws, lambda frames: any(f.get("msg_id") == "s" for f in frames))
            _comment(server, user, post.pk, "compressed")
            frames = _read(ws, lambda frames: _count(frames, "event") == 1)
        (record,) = _wait_for(server, "ws.disconnected", 1)

    assert [f["data"]["body"] for f in frames if f["type"] == "event"] == ["compressed"]
    assert record["direct"] == 0
    assert record["queued"] >= 1


def test_other_servers_than_uvicorn_are_sent_the_ordinary_way() -> None:
    from tests.content.factories import PostFactory

    with LiveServer("web", "--server", "daphne", **LOGS) as server:
        user = _user()
        post = PostFactory()
        with _connect(server, user) as ws:
            ws.send(json.dumps({"type": "subscribe", "room": f"post:{post.pk}", "msg_id": "s"}))
            _read(ws, lambda frames: any(f.get("msg_id") == "s" for f in frames))
            _comment(server, user, post.pk, "over daphne")
            frames = _read(ws, lambda frames: _count(frames, "event") == 1)
        (record,) = _wait_for(server, "ws.disconnected", 1)

    assert [f["data"]["body"] for f in frames if f["type"] == "event"] == ["over daphne"]
    assert record["direct"] == 0


@pytest.mark.redis
def test_a_slow_reader_is_closed_1013_with_its_frames_bounded() -> None:
    """A client that stops reading: direct writes stop at the transport's high-water mark, the
    rest queue up to WS_SEND_QUEUE_FRAMES and then the connection is closed."""
    from realtime.broadcast import broadcast

    with LiveServer("web", WS_SEND_QUEUE_FRAMES="8", **LOGS) as server:
        user = _user()
        with _connect(server, user, max_queue=1) as ws:
            for n in range(600):
                # Random, so nothing on the way can shrink it; under the high-water mark.
                pad = secrets.token_hex(FLOOD_FRAME_BYTES // 2 - 100)
                broadcast(f"user:{user.pk}", "flood", {"n": n, "pad": pad})
                if "ws.too_slow" in server.output():
                    break
            (slow,) = _wait_for(server, "ws.too_slow", 1)
            with pytest.raises(ConnectionClosed):
                _read_all(ws)
        (record,) = _wait_for(server, "ws.disconnected", 1)

    assert slow["queued"] == 8
    # The transport's high-water mark, plus the one frame uvicorn's `send` may write under it.
    assert slow["buffered"] <= HIGH_WATER_BYTES + FLOOD_FRAME_BYTES
    assert record["direct"] > 0
    assert ws.close_code in (1013, 1006, None)


def _user() -> Any:
    from django.db import connection

    from tests.factories import UserFactory

    user = UserFactory()
    connection.close()  # the server reads the user from the same database file
    return user


def _token(user: Any) -> str:
    from accounts.services import login_session_start

    return login_session_start(user=user).access_token


def _connect(server: LiveServer, user: Any, **options: Any) -> ClientConnection:
    status, _, body = http_request(
        "POST",
        f"{server.base_url}/api/v1/auth/ws-ticket",
        body=b"{}",
        headers={"Authorization": f"Bearer {_token(user)}", "Content-Type": "application/json"},
    )
    assert status == 201, body
    url = server.base_url.replace("http", "ws") + f"/ws/v1/?ticket={json.loads(body)['ticket']}"
    return connect(url, open_timeout=10, **{"compression": None, **options})


def _comment(server: LiveServer, user: Any, post_id: Any, body: str) -> None:
    status, _, answer = http_request(
        "POST",
        f"{server.base_url}/api/v1/posts/{post_id}/comments",
        body=json.dumps({"body": body}).encode(),
        headers={"Authorization": f"Bearer {_token(user)}", "Content-Type": "application/json"},
    )
    assert status == 201, answer


def _read_texts(ws: ClientConnection, done: Any, limit: int = 500) -> list[str]:
    """Text frames until `done(frames so far)`, at most `limit` of them."""
    texts: list[str] = []
    frames: list[dict[str, Any]] = []
    for _ in range(limit):
        text = ws.recv(timeout=10)
        assert isinstance(text, str)
        texts.append(text)
        frames.append(json.loads(text))
        if done(frames):
            return texts
    raise AssertionError(f"not done after {limit} frames")


def _read(ws: ClientConnection, done: Any) -> list[dict[str, Any]]:
    return [json.loads(text) for text in _read_texts(ws, done)]


def _read_all(ws: ClientConnection, frames: int = 2000) -> None:
    for _ in range(frames):
        ws.recv(timeout=10)


def _count(frames: list[dict[str, Any]], kind: str) -> int:
    return sum(frame["type"] == kind for frame in frames)


def _records(server: LiveServer, event: str) -> list[dict[str, Any]]:
    records = []
    for line in server.output().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("message", "").startswith(f"{event} "):
                records.append(record)
    return records


def _wait_for(server: LiveServer, event: str, count: int) -> list[dict[str, Any]]:
    """The server's first `count` log records of `event`, once it has written them."""
    deadline = time.monotonic() + WAIT_SECONDS
    while len(_records(server, event)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return _records(server, event)[:count]
