"""The /ws/v1/ consumer through the real ASGI app: auth, origin policy, frames and rooms."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async

from realtime.broadcast import broadcast
from tests.realtime.helpers import assert_closed_with, ws_connect

pytestmark = pytest.mark.django_db(transaction=True)


async def test_ping_gets_pong(session_cookie) -> None:
    _, cookie = session_cookie
    ws = await ws_connect(cookie=cookie)

    await ws.send_json_to({"type": "ping"})

    assert await ws.receive_json_from(timeout=5) == {"type": "pong"}
    await ws.disconnect()


@pytest.mark.parametrize("path", ["/ws/v1/", "/ws/v1"])
async def test_both_path_forms_are_served(session_cookie, path: str) -> None:
    _, cookie = session_cookie
    ws = await ws_connect(cookie=cookie, path=path)

    await ws.send_json_to({"type": "ping"})

    assert (await ws.receive_json_from(timeout=5))["type"] == "pong"
    await ws.disconnect()


async def test_connection_without_credentials_is_closed_4401() -> None:
    ws = await ws_connect()

    await assert_closed_with(ws, 4401)


async def test_connection_with_an_unknown_session_is_closed_4401() -> None:
    ws = await ws_connect(cookie="sessionid=not-a-session")

    await assert_closed_with(ws, 4401)


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://localhost.evil.example"]
)
async def test_foreign_origin_is_closed_4403_even_with_credentials(session_cookie, origin) -> None:
    _, cookie = session_cookie
    ws = await ws_connect(cookie=cookie, origin=origin)

    await assert_closed_with(ws, 4403)


@pytest.mark.parametrize("origin", ["http://localhost:8000", "http://127.0.0.1:8000"])
async def test_origin_of_an_allowed_host_is_accepted(session_cookie, origin: str) -> None:
    _, cookie = session_cookie
    ws = await ws_connect(cookie=cookie, origin=origin)

    await ws.send_json_to({"type": "ping"})

    assert (await ws.receive_json_from(timeout=5))["type"] == "pong"
    await ws.disconnect()


async def test_origin_listed_for_cors_is_accepted(session_cookie, settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.org"]
    _, cookie = session_cookie
    ws = await ws_connect(cookie=cookie, origin="https://app.example.org")

    await ws.send_json_to({"type": "ping"})

    assert (await ws.receive_json_from(timeout=5))["type"] == "pong"
    await ws.disconnect()


@pytest.mark.parametrize("frame", ["not json", "[1, 2]", '{"type": 7}', '"ping"'])
async def test_bad_frame_gets_an_error_then_close_4400(session_cookie, frame: str) -> None:
    _, cookie = session_cookie
    ws = await ws_connect(cookie=cookie)

    await ws.send_to(text_data=frame)

    error = await ws.receive_json_from(timeout=5)
    assert error["type"] == "error"
    assert error["code"] == "bad_frame"
    await assert_closed_with(ws, 4400)


async def test_unknown_message_type_gets_an_error_and_the_connection_stays(session_cookie) -> None:
    _, cookie = session_cookie
    ws = await ws_connect(cookie=cookie)

    await ws.send_json_to({"type": "dance"})
    error = await ws.receive_json_from(timeout=5)
    await ws.send_json_to({"type": "ping"})

    assert error["code"] == "unknown_type"
    assert (await ws.receive_json_from(timeout=5))["type"] == "pong"
    await ws.disconnect()


async def test_broadcast_to_the_user_room_reaches_only_that_user(session_cookie) -> None:
    member, cookie = session_cookie
    ws = await ws_connect(cookie=cookie)

    event_id = await sync_to_async(broadcast)(f"user:{member.pk}", "note", {"text": "Grüß dich"})

    frame = await ws.receive_json_from(timeout=5)
    assert frame == {
        "type": "event",
        "id": event_id,
        "room": f"user:{member.pk}",
        "event": "note",
        "data": {"text": "Grüß dich"},
        "request_id": None,
    }
    await ws.disconnect()


async def test_broadcast_from_another_thread_is_delivered_promptly(session_cookie) -> None:
    member, cookie = session_cookie
    ws = await ws_connect(cookie=cookie)
    sender = threading.Thread(target=broadcast, args=(f"user:{member.pk}", "from.thread", {"n": 1}))

    sender.start()
    frame = await ws.receive_json_from(timeout=2)
    await asyncio.to_thread(sender.join, 5)

    assert frame["event"] == "from.thread"
    await ws.disconnect()


@pytest.mark.parametrize(
    "room", ["user:", "user:../../x", "admin:01a201ab-1ae0-77d8-a943-5a114e146b94", ""]
)
def test_broadcast_refuses_what_is_not_a_room(room: str) -> None:
    with pytest.raises(ValueError, match="Not a room"):
        broadcast(room, "note", {})


@pytest.mark.redis
async def test_an_idle_connection_outlives_the_subscriptions_read_timeout(session_cookie) -> None:
    """The fan-out subscription waits 5 s per read; an idle one must keep listening."""
    member, cookie = session_cookie
    ws = await ws_connect(cookie=cookie)

    assert await ws.receive_nothing(timeout=7, interval=0.5)
    await sync_to_async(broadcast)(f"user:{member.pk}", "still.here", {})

    assert (await ws.receive_json_from(timeout=5))["event"] == "still.here"
    await ws.disconnect()
