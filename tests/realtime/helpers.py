"""WebSocket clients that talk to the real ASGI application in-process."""

from __future__ import annotations

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
