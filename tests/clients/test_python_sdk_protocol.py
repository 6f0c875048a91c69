"""The Python SDK's own rules, against a scripted WebSocket server in this process: the cases
the real server cannot be made to produce on demand (a replay out of order or with a
duplicate, a refused chunk, each close code) and the pure pieces (backoff, chunk frames).
The SDK against the real server: test_python_sdk.py."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from agora_client import (
    AgoraClient,
    AuthenticationError,
    ClientClosed,
    ConnectionLost,
    Event,
    FrameError,
    Resumed,
    UploadError,
    chunk_frame,
    floor_event_id,
    full_jitter,
    parse_chunk_frame,
)
from uuid_utils.compat import uuid7
from websockets.asyncio.server import ServerConnection, serve

WAIT_SECONDS = 5
Script = Callable[[ServerConnection, int], Awaitable[None]]


class TicketlessClient(AgoraClient):
    """Connects without REST: the scripted server takes any ticket."""

    async def ws_ticket(self) -> str:
        return "scripted"


@asynccontextmanager
async def scripted_server(script: Script, **options: Any) -> AsyncIterator[TicketlessClient]:
    """A server running `script(socket, n)` for its n-th connection, and a client of it."""
    count = 0

    async def handler(socket: ServerConnection) -> None:
        nonlocal count
        count += 1
        await script(socket, count)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = TicketlessClient(
            f"http://127.0.0.1:{port}",
            **{"reconnect_base": 0.01, "reconnect_max": 0.05, **options},
        )
        try:
            yield client
        finally:
            await client.close()


async def receive(socket: ServerConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(socket.recv(), WAIT_SECONDS))


async def send(socket: ServerConnection, **frame: Any) -> None:
    await socket.send(json.dumps(frame))


def event(room: str, event_id: str, n: int) -> dict[str, Any]:
    return {
        "type": "event",
        "id": event_id,
        "room": room,
        "event": "comment.created",
        "data": {"n": n},
        "request_id": None,
    }


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_SECONDS):
        while not condition():
            await asyncio.sleep(0.01)


def test_the_backoff_is_full_jitter_up_to_half_a_second_doubling_to_thirty() -> None:
    ceilings = [full_jitter(n, uniform=lambda low, high: high) for n in range(9)]
    floors = {full_jitter(n, uniform=lambda low, high: low) for n in range(9)}
    drawn = [full_jitter(3) for _ in range(200)]

    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert floors == {0.0}
    assert all(0.0 <= delay <= 4.0 for delay in drawn)
    assert len(set(drawn)) > 100
    assert full_jitter(10_000) <= 30.0


def test_a_chunk_frame_is_the_uuid_bytes_a_big_endian_offset_then_the_data() -> None:
    upload_id = str(uuid.uuid4())
    frame = chunk_frame(upload_id, 256 * 1024 * 3, b"Gr\xc3\xbc\xc3\x9fe")

    assert frame[:16] == uuid.UUID(upload_id).bytes
    assert frame[16:24] == (786432).to_bytes(8, "big") == b"\x00\x00\x00\x00\x00\x0c\x00\x00"
    assert frame[24:] == "Grüße".encode()
    assert parse_chunk_frame(frame) == (upload_id, 786432, "Grüße".encode())
    with pytest.raises(ValueError, match="at most"):
        chunk_frame(upload_id, 0, bytes(256 * 1024 + 1))


def test_a_floor_event_id_sorts_after_older_event_ids_and_before_newer_ones() -> None:
    before = str(uuid7())
    time.sleep(0.005)
    floor = floor_event_id(time.time())
    after = str(uuid7())

    assert uuid.UUID(floor).version == 7
    assert before < floor <= after


async def test_a_reconnect_resumes_from_the_last_id_and_delivers_the_replay_sorted_once() -> None:
    room = "post:" + str(uuid.uuid4())
    ids = [str(uuid7()) for _ in range(4)]
    seen_since: list[str | None] = []

    async def script(socket: ServerConnection, n: int) -> None:
        subscribe = await receive(socket)
        seen_since.append(subscribe.get("since"))
        if n == 1:
            await send(socket, type="ack", msg_id=subscribe["msg_id"], room=room)
            for i in (0, 1):
                await socket.send(json.dumps(event(room, ids[i], i)))
            await socket.close(1012)
            return
        # A live event that overtook the replay, a duplicate, then `resumed` with a gap.
        for i in (3, 2, 1):
            await socket.send(json.dumps(event(room, ids[i], i)))
        await send(socket, type="resumed", room=room, count=2, complete=False)
        await send(socket, type="ack", msg_id=subscribe["msg_id"], room=room)
        await socket.wait_closed()

    async with scripted_server(script) as client:
        delivered: list[Event] = []
        gaps: list[str] = []
        client.on_gap(gaps.append)
        subscribed = client.subscribe(room, delivered.append)
        await client.connect()
        await subscribed
        await until(lambda: len(delivered) == 4 and client.resumed(room) is not None)
        dropped_with = client.close_code

    assert dropped_with == 1012
    assert seen_since == [None, ids[1]]
    assert [e.id for e in delivered] == ids
    assert [e.data["n"] for e in delivered] == [0, 1, 2, 3]
    assert client.resumed(room) == Resumed(room, 2, False)
    assert gaps == [room]


@pytest.mark.parametrize("code", [4400, 4403])
async def test_after_close_4400_or_4403_the_client_does_not_reconnect(code: int) -> None:
    async def script(socket: ServerConnection, n: int) -> None:
        await socket.close(code)

    async with scripted_server(script) as client:
        queued = client.send({"type": "ping"})
        with pytest.raises(ClientClosed):
            await client.connect()
        await until(lambda: client.state == "closed")
        await asyncio.sleep(0.1)

    assert client.connections == 1
    assert client.close_code == code
    assert isinstance(client.reason, ConnectionLost)
    with pytest.raises(ClientClosed, match="gave up"):
        await queued


@pytest.mark.parametrize("code", [1012, 1013, 4429, 1011, 1006])
async def test_after_other_closes_and_lost_connections_the_client_reconnects(code: int) -> None:
    async def script(socket: ServerConnection, n: int) -> None:
        if n == 1:
            if code == 1006:
                socket.transport.abort()
            else:
                await socket.close(code)
            return
        ping = await receive(socket)
        await send(socket, type="ack", msg_id=ping["msg_id"])
        await socket.wait_closed()

    async with scripted_server(script) as client:
        await client.connect()
        await until(lambda: client.connections == 2 and client.connected)
        ack = await client.ping()
        dropped_with = client.close_code

    assert dropped_with == code
    assert ack["type"] == "ack"


async def test_a_4401_without_a_refresh_token_ends_the_client() -> None:
    async def script(socket: ServerConnection, n: int) -> None:
        await socket.close(4401)

    async with scripted_server(script) as client:
        with pytest.raises(ClientClosed):
            await client.connect()

    assert client.connections == 1
    assert isinstance(client.reason, AuthenticationError)


async def test_an_error_frame_with_the_msg_id_rejects_and_a_silent_server_times_out() -> None:
    async def script(socket: ServerConnection, n: int) -> None:
        refused = await receive(socket)
        await send(socket, type="error", code="invalid", message="No.", msg_id=refused["msg_id"])
        await receive(socket)  # never answered
        await socket.wait_closed()

    async with scripted_server(script) as client:
        await client.connect()
        with pytest.raises(FrameError) as refused:
            await client.send({"type": "shout"})
        with pytest.raises(TimeoutError):
            await client.send({"type": "ping"}, timeout=0.2)

    assert (refused.value.code, refused.value.message) == ("invalid", "No.")


async def test_an_upload_asks_where_the_server_stands_when_a_chunk_was_refused() -> None:
    data = bytes(range(256)) * 4096  # 1 MiB: four chunks
    upload_id = str(uuid.uuid4())
    begins: list[dict[str, Any]] = []
    offsets: list[int] = []

    async def script(socket: ServerConnection, n: int) -> None:
        received = 0
        refused_once = False
        async for message in socket:
            if isinstance(message, str):
                begin = json.loads(message)
                begins.append(begin)
                await send(
                    socket,
                    type="ack",
                    msg_id=begin["msg_id"],
                    upload_id=upload_id,
                    received=received,
                )
                continue
            _, offset, chunk = parse_chunk_frame(message)
            offsets.append(offset)
            if offset != received:
                continue  # after a refused chunk: ignored until the client begins again
            if offset == 512 * 1024 and not refused_once:
                refused_once = True
                details = {"offset": [f"Go on from byte {received}."]}
                await send(
                    socket,
                    type="error",
                    code="validation_error",
                    message="Bad offset.",
                    upload_id=upload_id,
                    details=details,
                )
                continue
            received += len(chunk)
            await send(socket, type="upload.progress", upload_id=upload_id, received=received)
            if received == len(data):
                upload = {"id": upload_id, "size": received}
                await send(socket, type="upload.done", upload=upload)

    async with scripted_server(script) as client:
        await client.connect()
        upload = await client.upload(data, "bytes.bin", "application/pdf", window=1)

    assert upload == {"id": upload_id, "size": len(data)}
    assert [begin.get("upload_id") for begin in begins] == [None, upload_id]
    assert offsets == [0, 262144, 524288, 524288, 786432]


async def test_an_upload_the_server_refuses_raises_upload_error() -> None:
    async def script(socket: ServerConnection, n: int) -> None:
        begin = await receive(socket)
        await send(
            socket,
            type="error",
            code="payload_too_large",
            message="Too big.",
            msg_id=begin["msg_id"],
        )
        await socket.wait_closed()

    async with scripted_server(script) as client:
        await client.connect()
        with pytest.raises(UploadError) as refused:
            await client.upload(b"%PDF-1.4\n", "a.pdf", "application/pdf")

    assert refused.value.code == "payload_too_large"
