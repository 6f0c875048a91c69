"""WebSocket clients that talk to the real ASGI application in-process."""

from __future__ import annotations

import asyncio
from typing import Any

from channels.testing import WebsocketCommunicator

from config.asgi import application

_open_communicators: list[WebsocketCommunicator] = []


async def ws_connect(
    *,
    cookie: str | None = None,
    origin: str | None = None,
    path: str = "/ws/v1/",
    subprotocols: list[str] | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> WebsocketCommunicator:
    """Open a connection; `hang_up_all` closes it after the test even if the test fails."""
    all_headers = list(headers or [])
    if cookie is not None:
        all_headers.append((b"cookie", cookie.encode()))
    if origin is not None:
        all_headers.append((b"origin", origin.encode()))
    communicator = WebsocketCommunicator(
        application, path, headers=all_headers, subprotocols=subprotocols
    )
    _open_communicators.append(communicator)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def assert_closed_with(communicator: WebsocketCommunicator, code: int) -> None:
    """The next frame is a close with `code` (within 5 s, the contract's revocation delay)."""
    message = await communicator.receive_output(timeout=5)
    assert message == {"type": "websocket.close", "code": code}


async def hang_up_all() -> None:
    """Send `websocket.disconnect` to every consumer still running, as a real client would.

    A consumer left running keeps a pending channel-layer receive; with channels-redis that
    read outlives the test's event loop and stalls its teardown for minutes.
    """
    while _open_communicators:
        communicator = _open_communicators.pop()
        if not communicator.future.done():
            await communicator.disconnect()


def cookie_for(user: Any) -> str:
    """A session cookie header value for `user` (sync: call through sync_to_async)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def receive_until(
    communicator: WebsocketCommunicator, predicate: Any, *, timeout: float = 5
) -> dict[str, Any]:
    """The first JSON frame that satisfies `predicate`, skipping the others."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise AssertionError("no matching frame arrived")
        frame = await communicator.receive_json_from(timeout=left)
        if predicate(frame):
            return frame


async def drain(communicator: WebsocketCommunicator, *, quiet: float = 0.3) -> list[Any]:
    """Every frame that arrives until none comes for `quiet` seconds."""
    frames = []
    while not await communicator.receive_nothing(timeout=quiet, interval=0.02):
        frames.append(await communicator.receive_json_from(timeout=1))
    return frames


class RoomLog:
    """Reads what `broadcast` appended to a room's log (every event it fanned out), from now on.

    Sync: for tests that write through the API and check what was announced after commit.
    """

    def __init__(self, room: str) -> None:
        from uuid_utils.compat import uuid7

        self.room = room
        self.since = str(uuid7())

    def _published(self) -> list[dict[str, Any]]:
        import json

        from asgiref.sync import async_to_sync

        from realtime.backends import backend

        replay = async_to_sync(backend().replay)(self.room, self.since)
        return [json.loads(frame) for _, frame in replay.frames]

    def next(self, timeout: float = 5) -> dict[str, Any]:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if published := self._published():
                self.since = published[0]["id"]
                return published[0]
            time.sleep(0.02)
        raise TimeoutError(f"nothing published to {self.room}")

    def nothing(self, timeout: float = 0.3) -> bool:
        """True when nothing more is published within `timeout` seconds."""
        import time

        time.sleep(timeout)
        return self._published() == []

    def close(self) -> None:
        """Nothing to release: the log is read, not subscribed to."""
