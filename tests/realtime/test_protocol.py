"""The /ws/v1/ protocol through the real ASGI app: rooms and their permissions, acks and
de-duplication, presence, typing, resume, limits. Runs on the in-process state (embedded) and
on Redis (services), whichever the settings give."""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from uuid_utils.compat import uuid7

from content.models import PostStatus
from realtime.broadcast import broadcast
from tests.content.factories import PostFactory
from tests.factories import GuestFactory, UserFactory
from tests.realtime.helpers import (
    assert_closed_with,
    cookie_for,
    drain,
    receive_until,
    ws_connect,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def connect_as(user: Any) -> Any:
    return await ws_connect(cookie=await sync_to_async(cookie_for)(user))


async def new_user(**fields: Any) -> Any:
    return await sync_to_async(UserFactory)(**fields)


async def new_post(**fields: Any) -> Any:
    return await sync_to_async(PostFactory)(**fields)


async def publish(room: str, event: str, data: dict[str, Any]) -> str:
    return await sync_to_async(broadcast)(room, event, data)


async def subscribe(ws: Any, room: str, **fields: Any) -> list[dict[str, Any]]:
    """Subscribe and return the frames up to and including the ack."""
    msg_id = uuid.uuid4().hex
    await ws.send_json_to({"type": "subscribe", "room": room, "msg_id": msg_id, **fields})
    frames = []
    while True:
        frame = await ws.receive_json_from(timeout=5)
        frames.append(frame)
        if frame.get("msg_id") == msg_id:
            return frames


def of_type(frames: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [frame for frame in frames if frame["type"] == kind]


# -- rooms -------------------------------------------------------------------------------------
async def test_subscribing_to_a_readable_post_acks_and_delivers_its_events() -> None:
    reader = await new_user(username="zoë")
    post = await new_post()
    ws = await connect_as(reader)

    frames = await subscribe(ws, f"post:{post.pk}")
    event_id = await publish(f"post:{post.pk}", "comment.created", {"body": "Grüß dich 👋"})
    event = await receive_until(ws, lambda f: f["type"] == "event")

    assert frames[-1] == {"type": "ack", "msg_id": frames[-1]["msg_id"], "room": f"post:{post.pk}"}
    assert of_type(frames, "presence") == [
        {
            "type": "presence",
            "room": f"post:{post.pk}",
            "online": [{"id": str(reader.pk), "username": "zoë"}],
            "joined": [],
            "left": [],
        }
    ]
    assert event["id"] == event_id
    assert event["data"] == {"body": "Grüß dich 👋"}


async def test_feed_is_open_to_every_signed_in_user_and_carries_no_presence() -> None:
    ws = await connect_as(await new_user())

    frames = await subscribe(ws, "feed")
    await publish("feed", "post.published", {"id": "x"})

    assert of_type(frames, "presence") == []
    assert (await receive_until(ws, lambda f: f["type"] == "event"))["event"] == "post.published"


@pytest.mark.parametrize(
    "room",
    [
        "post:{other_draft}",
        "post:{deleted}",
        "post:01a201ab-1ae0-77d8-a943-5a114e146b94",
        "user:{other_user}",
        "job:01a201ab-1ae0-77d8-a943-5a114e146b94",
        "admin:everything",
        "feed ",
        "",
    ],
)
async def test_forbidden_or_unknown_rooms_get_forbidden_and_nothing_from_them(room: str) -> None:
    other = await new_user()
    draft = await new_post(author=other, status=PostStatus.DRAFT)
    deleted = await new_post(deleted=True)
    name = room.format(other_draft=draft.pk, deleted=deleted.pk, other_user=other.pk)
    ws = await connect_as(await new_user())

    await ws.send_json_to({"type": "subscribe", "room": name, "msg_id": "m1"})
    error = await ws.receive_json_from(timeout=5)
    if name.startswith(("post:", "user:")):
        await publish(name, "comment.created", {"secret": True})

    assert error["type"] == "error"
    assert error["code"] == "forbidden"
    assert error["msg_id"] == "m1"
    assert await ws.receive_nothing(timeout=0.3)


async def test_unsubscribed_rooms_deliver_nothing_more() -> None:
    post = await new_post()
    ws = await connect_as(await new_user())
    await subscribe(ws, f"post:{post.pk}")

    await ws.send_json_to({"type": "unsubscribe", "room": f"post:{post.pk}", "msg_id": 2})
    ack = await receive_until(ws, lambda f: f["type"] == "ack")
    await publish(f"post:{post.pk}", "comment.created", {})

    assert ack == {"type": "ack", "msg_id": 2, "room": f"post:{post.pk}"}
    assert await ws.receive_nothing(timeout=0.3)


async def test_the_own_user_room_cannot_be_left() -> None:
    user = await new_user()
    ws = await connect_as(user)

    await ws.send_json_to({"type": "unsubscribe", "room": f"user:{user.pk}"})

    assert (await ws.receive_json_from(timeout=5))["code"] == "invalid"


# -- acks and de-duplication ---------------------------------------------------------------------
async def test_a_repeated_msg_id_is_acked_as_duplicate_and_not_redone_even_on_another_connection(
    settings,
) -> None:
    user = await new_user()
    post = await new_post()
    first = await connect_as(user)
    frame = {"type": "subscribe", "room": f"post:{post.pk}", "msg_id": "same-1"}

    await first.send_json_to(frame)
    original = await receive_until(first, lambda f: f["type"] == "ack")
    await first.send_json_to(frame)
    again = await first.receive_json_from(timeout=5)
    second = await connect_as(user)
    await second.send_json_to(frame)
    elsewhere = await second.receive_json_from(timeout=5)

    assert original == {"type": "ack", "msg_id": "same-1", "room": f"post:{post.pk}"}
    assert again == {**original, "duplicate": True}
    assert elsewhere == {**original, "duplicate": True}
    # Not redone: the second connection never joined the room.
    await publish(f"post:{post.pk}", "comment.created", {})
    assert await second.receive_nothing(timeout=0.3)


async def test_a_refused_message_may_be_retried_with_its_msg_id() -> None:
    user = await new_user()
    ws = await connect_as(user)
    frame = {"type": "typing", "room": "feed", "msg_id": "retry-me"}

    await ws.send_json_to(frame)
    first = await ws.receive_json_from(timeout=5)
    await ws.send_json_to(frame)
    second = await ws.receive_json_from(timeout=5)

    assert first["code"] == second["code"] == "not_subscribed"
    assert first["msg_id"] == "retry-me"


@pytest.mark.parametrize("msg_id", ["", "x" * 129, True, {"a": 1}, [1]])
async def test_a_malformed_msg_id_is_refused(msg_id: Any) -> None:
    ws = await connect_as(await new_user())

    await ws.send_json_to({"type": "ping", "msg_id": msg_id})

    assert (await ws.receive_json_from(timeout=5))["code"] == "invalid"


# -- presence and typing ----------------------------------------------------------------------
async def test_presence_lists_each_user_once_and_announces_joins_and_leaves() -> None:
    ana = await new_user(username="ana")
    bo = await new_user(username="bø")
    post = await new_post()
    room = f"post:{post.pk}"
    ana_ws = await connect_as(ana)
    await subscribe(ana_ws, room)

    bo_tab1 = await connect_as(bo)
    bo_frames = await subscribe(bo_tab1, room)
    joined = await receive_until(ana_ws, lambda f: f["type"] == "presence")
    bo_tab2 = await connect_as(bo)
    await subscribe(bo_tab2, room)
    quiet_after_second_tab = await ana_ws.receive_nothing(timeout=0.3)
    await bo_tab1.disconnect()
    quiet_after_first_close = await ana_ws.receive_nothing(timeout=0.3)
    await bo_tab2.disconnect()
    left = await receive_until(ana_ws, lambda f: f["type"] == "presence")

    online = of_type(bo_frames, "presence")[0]["online"]
    assert sorted(user["username"] for user in online) == ["ana", "bø"]
    assert joined == {
        "type": "presence",
        "room": room,
        "joined": [{"id": str(bo.pk), "username": "bø"}],
        "left": [],
    }
    assert quiet_after_second_tab
    assert quiet_after_first_close
    assert left == {
        "type": "presence",
        "room": room,
        "joined": [],
        "left": [{"id": str(bo.pk), "username": "bø"}],
    }


async def test_typing_reaches_the_other_users_at_most_once_a_second() -> None:
    writer = await new_user(username="écrivain")
    post = await new_post()
    room = f"post:{post.pk}"
    reader_ws = await connect_as(await new_user())
    writer_ws = await connect_as(writer)
    writer_other_tab = await connect_as(writer)
    for ws in (reader_ws, writer_ws, writer_other_tab):
        await subscribe(ws, room)
    await drain(reader_ws)

    for _ in range(3):
        await writer_ws.send_json_to({"type": "typing", "room": room})
    relayed = [frame for frame in await drain(reader_ws) if frame["type"] == "typing"]

    assert relayed == [
        {"type": "typing", "room": room, "user": {"id": str(writer.pk), "username": "écrivain"}}
    ]
    assert [f for f in await drain(writer_other_tab) if f["type"] == "typing"] == []


async def test_typing_outside_a_post_room_is_refused() -> None:
    ws = await connect_as(await new_user())
    await subscribe(ws, "feed")

    await ws.send_json_to({"type": "typing", "room": "feed"})

    assert (await ws.receive_json_from(timeout=5))["code"] == "invalid"


# -- history and resume -----------------------------------------------------------------------
async def test_resume_replays_the_missed_events_in_order_then_says_complete() -> None:
    post = await new_post()
    room = f"post:{post.pk}"
    ids = [await publish(room, "comment.created", {"n": n}) for n in range(4)]
    ws = await connect_as(await new_user())
    await subscribe(ws, room)

    await ws.send_json_to({"type": "resume", "since": ids[0], "room": room})
    frames = await drain(ws)

    events = of_type(frames, "event")
    assert [event["id"] for event in events] == ids[1:]
    assert [event["data"]["n"] for event in events] == [1, 2, 3]
    assert of_type(frames, "resumed") == [
        {"type": "resumed", "room": room, "count": 3, "complete": True}
    ]


async def test_resume_without_room_covers_every_subscribed_room_with_one_since() -> None:
    user = await new_user()
    post = await new_post()
    since = str(uuid7())
    in_post = await publish(f"post:{post.pk}", "comment.created", {})
    in_feed = await publish("feed", "post.published", {})
    ws = await connect_as(user)
    await subscribe(ws, f"post:{post.pk}")
    await subscribe(ws, "feed")
    await drain(ws)

    await ws.send_json_to({"type": "resume", "since": since})
    frames = await drain(ws)

    assert sorted(e["id"] for e in of_type(frames, "event")) == sorted([in_post, in_feed])
    assert {f["room"]: f["complete"] for f in of_type(frames, "resumed")} == {
        f"user:{user.pk}": True,
        f"post:{post.pk}": True,
        "feed": True,
    }


async def test_subscribe_with_since_replays_without_duplicating_live_events() -> None:
    post = await new_post()
    room = f"post:{post.pk}"
    first = await publish(room, "comment.created", {"n": 0})
    missed = [await publish(room, "comment.created", {"n": n}) for n in (1, 2)]
    ws = await connect_as(await new_user())

    frames = await subscribe(ws, room, since=first)
    live = await publish(room, "comment.created", {"n": 3})
    frames += await drain(ws)

    assert [e["id"] for e in of_type(frames, "event")] == [*missed, live]
    assert of_type(frames, "resumed")[0]["count"] == 2


async def test_resume_from_an_event_no_longer_kept_says_incomplete(settings) -> None:
    settings.WS_HISTORY_EVENTS = 3
    post = await new_post()
    room = f"post:{post.pk}"
    ids = [await publish(room, "comment.created", {"n": n}) for n in range(6)]
    ws = await connect_as(await new_user())
    await subscribe(ws, room)

    await ws.send_json_to({"type": "resume", "since": ids[1], "room": room})
    frames = await drain(ws)

    assert [e["id"] for e in of_type(frames, "event")] == ids[3:]
    assert of_type(frames, "resumed")[0]["complete"] is False


async def test_resume_from_a_very_old_id_says_incomplete() -> None:
    post = await new_post()
    ws = await connect_as(await new_user())
    await subscribe(ws, f"post:{post.pk}")

    await ws.send_json_to(
        {
            "type": "resume",
            "since": "00000000-0000-7000-8000-000000000000",
            "room": f"post:{post.pk}",
        }
    )

    resumed = await receive_until(ws, lambda f: f["type"] == "resumed")
    assert resumed["complete"] is False


@pytest.mark.parametrize("since", [None, "yesterday", 42, "post:1"])
async def test_resume_needs_an_event_id(since: Any) -> None:
    ws = await connect_as(await new_user())

    await ws.send_json_to({"type": "resume", "since": since})

    assert (await ws.receive_json_from(timeout=5))["code"] == "invalid"


async def test_event_ids_increase_within_a_room_even_across_publishers() -> None:
    post = await new_post()
    room = f"post:{post.pk}"

    ids = await asyncio.gather(
        *(sync_to_async(broadcast, thread_sensitive=False)(room, "n", {}) for _ in range(20))
    )

    ws = await connect_as(await new_user())
    frames = await subscribe(ws, room, since="00000000-0000-7000-8000-000000000000")
    replayed = [e["id"] for e in of_type(frames, "event")]
    assert sorted(replayed) == replayed
    assert sorted(ids) == replayed


# -- notifications on connect -----------------------------------------------------------------
async def test_unread_notifications_are_delivered_on_connect() -> None:
    from realtime.services import notification_create

    user = await new_user()
    created = await sync_to_async(notification_create)(
        recipient_id=user.pk, kind="comment_on_post", data={"post": {"id": "p"}}
    )

    ws = await connect_as(user)
    frame = await ws.receive_json_from(timeout=5)

    assert frame["type"] == "event"
    assert frame["event"] == "notification"
    assert frame["room"] == f"user:{user.pk}"
    assert frame["data"]["id"] == str(created.pk)
    assert frame["data"]["read"] is False


# -- limits -----------------------------------------------------------------------------------
async def test_a_flood_gets_rate_limited_then_closed_4429_and_other_connections_carry_on(
    settings,
) -> None:
    settings.WS_RATE_PER_SECOND = 1
    settings.WS_RATE_BURST = 5
    user = await new_user()
    calm = await connect_as(user)
    flood = await connect_as(user)

    for _ in range(5 + 1 + 6):
        await flood.send_json_to({"type": "ping"})
    frames = []
    while True:
        output = await flood.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            break
        frames.append(output["text"])
    await calm.send_json_to({"type": "ping"})

    assert output["code"] == 4429
    assert sum('"pong"' in frame for frame in frames) == 5
    assert any('"rate_limited"' in frame for frame in frames)
    assert await calm.receive_json_from(timeout=5) == {"type": "pong"}


async def test_connections_of_one_user_are_capped(settings) -> None:
    settings.WS_MAX_CONNECTIONS_PER_USER = 2
    user = await new_user()
    first = await connect_as(user)
    await connect_as(user)

    third = await connect_as(user)
    await assert_closed_with(third, 4429)
    await first.disconnect()
    fourth = await connect_as(user)
    await fourth.send_json_to({"type": "ping"})

    assert await fourth.receive_json_from(timeout=5) == {"type": "pong"}


async def test_a_frame_over_one_mebibyte_is_closed_1009() -> None:
    ws = await connect_as(await new_user())

    await ws.send_to(text_data='{"type":"ping","pad":"' + "x" * (1024 * 1024) + '"}')

    await assert_closed_with(ws, 1009)


async def test_a_client_that_stops_reading_is_closed_1013_and_the_server_keeps_nothing(
    settings,
) -> None:
    """The writer blocks as a real socket does once the client's buffers are full."""
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    settings.WS_SEND_QUEUE_FRAMES = 5
    user = await new_user()
    cookie = await sync_to_async(cookie_for)(user)
    stuck = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        async def slow_send(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.send":
                await stuck.wait()
            await send(message)

        await application(scope, receive, slow_send)

    ws = WebsocketCommunicator(app, "/ws/v1/", headers=[(b"cookie", cookie.encode())])
    assert (await ws.connect(timeout=5))[0]
    for n in range(10):
        await publish(f"user:{user.pk}", "flood", {"n": n})

    # The consumer ends by itself (it keeps nothing for the stalled reader; a real server
    # then drops the socket: test_live_slow_reader shows it with uvicorn).
    await asyncio.wait_for(asyncio.shield(ws.future), timeout=10)
    assert ws.future.exception() is None
    stuck.set()


# -- uploads over the socket ------------------------------------------------------------------
def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def chunk(upload_id: str, offset: int, data: bytes) -> bytes:
    return uuid.UUID(upload_id).bytes + offset.to_bytes(8, "big") + data


async def test_an_upload_in_chunks_survives_a_dropped_connection_and_completes() -> None:
    user = await new_user()
    data = png_bytes()
    digest = hashlib.sha256(data).hexdigest()
    begin = {
        "type": "upload.begin",
        "name": "rot.png",
        "size": len(data),
        "content_type": "image/png",
        "sha256": digest,
    }
    ws = await connect_as(user)
    await ws.send_json_to({**begin, "msg_id": "u1"})
    ack = await ws.receive_json_from(timeout=5)
    upload_id = ack["upload_id"]
    await ws.send_to(bytes_data=chunk(upload_id, 0, data[:20]))
    first = await ws.receive_json_from(timeout=5)
    await ws.disconnect()

    again = await connect_as(user)
    await again.send_json_to({**begin, "upload_id": upload_id, "msg_id": "u2"})
    resumed = await again.receive_json_from(timeout=5)
    await again.send_to(bytes_data=chunk(upload_id, 20, data[20:]))
    progress = await again.receive_json_from(timeout=5)
    done = await again.receive_json_from(timeout=5)

    assert ack == {"type": "ack", "msg_id": "u1", "upload_id": upload_id, "received": 0}
    assert first == {"type": "upload.progress", "upload_id": upload_id, "received": 20}
    assert resumed == {"type": "ack", "msg_id": "u2", "upload_id": upload_id, "received": 20}
    assert progress["received"] == len(data)
    assert done["type"] == "upload.done"
    assert done["upload"]["id"] == upload_id
    assert done["upload"]["content_type"] == "image/png"
    assert done["upload"]["sha256"] == digest


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"size": 10 * 1024 * 1024 + 1}, "payload_too_large"),
        ({"content_type": "application/x-msdownload"}, "unsupported_media_type"),
        ({"sha256": "not-a-hash"}, "validation_error"),
        ({"upload_id": "01a201ab-1ae0-77d8-a943-5a114e146b94"}, "not_found"),
    ],
)
async def test_upload_begin_refusals_come_at_once(fields: dict[str, Any], code: str) -> None:
    ws = await connect_as(await new_user())
    begin = {
        "type": "upload.begin",
        "name": "a.txt",
        "size": 5,
        "content_type": "text/plain",
        "sha256": hashlib.sha256(b"hello").hexdigest(),
        "msg_id": "b",
    }

    await ws.send_json_to({**begin, **fields})
    error = await ws.receive_json_from(timeout=5)

    assert error["type"] == "error"
    assert error["code"] == code
    assert error["msg_id"] == "b"


async def test_bytes_that_do_not_match_the_declared_hash_are_refused() -> None:
    ws = await connect_as(await new_user())
    await ws.send_json_to(
        {
            "type": "upload.begin",
            "name": "a.txt",
            "size": 5,
            "content_type": "text/plain",
            "sha256": hashlib.sha256(b"hello").hexdigest(),
            "msg_id": "c",
        }
    )
    upload_id = (await ws.receive_json_from(timeout=5))["upload_id"]

    await ws.send_to(bytes_data=chunk(upload_id, 0, b"HELLO"))

    error = await ws.receive_json_from(timeout=5)
    assert error["code"] == "checksum_mismatch"
    assert error["upload_id"] == upload_id


async def test_a_binary_frame_without_the_chunk_header_is_refused() -> None:
    ws = await connect_as(await new_user())

    await ws.send_to(bytes_data=b"\x00" * 10)

    assert (await ws.receive_json_from(timeout=5))["code"] == "bad_frame"


async def test_guests_may_not_upload() -> None:
    ws = await connect_as(await sync_to_async(GuestFactory)())

    await ws.send_json_to(
        {
            "type": "upload.begin",
            "name": "a.txt",
            "size": 5,
            "content_type": "text/plain",
            "sha256": hashlib.sha256(b"hello").hexdigest(),
        }
    )

    assert (await ws.receive_json_from(timeout=5))["code"] in {
        "permission_denied",
        "email_not_verified",
    }


@pytest.mark.redis
async def test_users_of_a_process_that_died_leave_its_rooms(settings) -> None:
    """A process that stops beating (kill -9) is retired by a live one, which announces its
    users' departure; none of the dead process's own code runs."""
    from realtime.backends import backend

    settings.WS_HEARTBEAT_SECONDS = 0.2
    settings.WS_PROCESS_TIMEOUT_SECONDS = 1
    post = await new_post()
    room = f"post:{post.pk}"
    ghost = await new_user(username="ghost")
    watcher = await connect_as(await new_user())
    dead_process = uuid.uuid4().hex
    await backend().heartbeat(dead_process)
    await backend().presence_join(
        room, f"{dead_process}/1", {"id": str(ghost.pk), "username": "ghost"}
    )
    await backend().connection_open(str(ghost.pk), f"{dead_process}/1", 20)

    frames = await subscribe(watcher, room)
    left = await receive_until(watcher, lambda f: f["type"] == "presence", timeout=10)

    online = of_type(frames, "presence")[0]["online"]
    assert "ghost" in {user["username"] for user in online}
    assert left["left"] == [{"id": str(ghost.pk), "username": "ghost"}]
    assert "ghost" not in {u["username"] for u in await backend().presence_online(room)}
