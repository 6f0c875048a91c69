"""The Python SDK (clients/python) against the real server over TCP.

One server (`serve web`) for the module; the tests that cut the network talk to it through
a TcpProxy. The restart test stops that server process and starts it again on its port, so it
runs last; it needs Redis (events are published from this process while the server is down)
and PostgreSQL (the server's database outlives it).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from agora_client import (
    AckTimeout,
    AgoraClient,
    ApiError,
    AuthenticationError,
    ClientClosed,
    Event,
    FrameError,
    PresenceChange,
    QueueFull,
    Resumed,
    new_msg_id,
)
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from content.models import PostStatus
from tests.content.factories import PostFactory
from tests.factories import PASSWORD, UserFactory
from tests.live import LiveServer
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]

# Fast reconnects: the backoff formula is the SDK's, its scale is the test's.
FAST = {"reconnect_base": 0.05, "reconnect_max": 0.5}
WAIT_SECONDS = 15


class Inbox:
    """An event handler that remembers what it got, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._queue: asyncio.Queue[Event] = asyncio.Queue()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._queue.put_nowait(event)

    async def take(self, count: int) -> list[Event]:
        return [await asyncio.wait_for(self._queue.get(), WAIT_SECONDS) for _ in range(count)]


async def until(condition: Callable[[], bool], timeout: float = WAIT_SECONDS) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
def server(django_db_setup: None, django_db_blocker: Any) -> Iterator[LiveServer]:
    """The Procfile's web process, as `make run` starts it in either mode."""
    with django_db_blocker.unblock(), LiveServer("web") as live:
        yield live


@pytest.fixture(scope="module")
def module_proxy(server: LiveServer) -> Iterator[TcpProxy]:
    proxy = TcpProxy(("127.0.0.1", server.port))
    proxy.start()
    yield proxy
    proxy.close()


@pytest.fixture
def proxy(module_proxy: TcpProxy) -> Iterator[TcpProxy]:
    """The proxy in front of the server, open and flowing for every test."""
    module_proxy.thaw()
    module_proxy.start()
    yield module_proxy
    module_proxy.thaw()
    module_proxy.start()


def proxied(proxy: TcpProxy) -> str:
    return f"http://127.0.0.1:{proxy.port}"


@pytest.fixture
async def connect_as(
    server: LiveServer,
) -> AsyncIterator[Callable[..., Awaitable[AgoraClient]]]:
    """`await connect_as(user, base_url=…, **options)`: a logged-in, connected client."""
    made: list[AgoraClient] = []

    async def connect(user: Any, *, base_url: str | None = None, **options: Any) -> AgoraClient:
        client = AgoraClient(base_url or server.base_url, **{**FAST, **options})
        made.append(client)
        await client.login(user.email, PASSWORD)
        await client.connect()
        return client

    yield connect
    for client in made:
        await client.close()


_numbers = itertools.count()


@pytest.fixture
def member() -> Any:
    return UserFactory(username=f"zoë_{next(_numbers)}")


@pytest.fixture
def other() -> Any:
    return UserFactory(username=f"李雷_{next(_numbers)}")


@pytest.fixture
def post() -> Any:
    return PostFactory()


@pytest.fixture
def draft(other: Any) -> Any:
    return PostFactory(author=other, status=PostStatus.DRAFT)


async def test_login_refreshes_the_access_token_before_expiry_and_after_a_401(
    server: LiveServer, member: Any
) -> None:
    saved: list[dict[str, Any]] = []
    client = AgoraClient(server.base_url, on_tokens=saved.append)

    tokens = await client.login(member.email, PASSWORD)
    me = await client.request("GET", "users/me")
    client.set_tokens(client.access_token or "", client.refresh_token, expires_in=0)
    await client.request("GET", "users/me")
    after_expiry = (client.access_token, client.refresh_token)
    client.set_tokens("not.a.token", client.refresh_token, expires_in=300)
    after_401 = await client.request("GET", "users/me")
    with pytest.raises(ApiError) as refused:
        await AgoraClient(server.base_url).login(member.username, "wrong password")

    assert tokens["token_type"] == "bearer"
    assert client.user_id == me["id"] == str(member.pk)
    assert len(saved) == 3
    assert saved[0]["access_token"] == tokens["access_token"]
    assert saved[-1]["access_token"] == client.access_token
    assert after_expiry[0] != tokens["access_token"]
    assert after_expiry[1] != tokens["refresh_token"]
    assert client.access_token not in (after_expiry[0], "not.a.token")
    assert after_401["id"] == me["id"]
    assert (refused.value.status, refused.value.code) == (401, "invalid_credentials")


async def test_every_connection_is_authenticated_by_a_new_single_use_ticket(
    server: LiveServer, proxy: TcpProxy, member: Any
) -> None:
    client = AgoraClient(proxied(proxy), **FAST)
    await client.login(member.email, PASSWORD)
    tickets: list[str] = []
    issue = client.ws_ticket

    async def recording_ticket() -> str:
        tickets.append(await issue())
        return tickets[-1]

    client.ws_ticket = recording_ticket  # type: ignore[method-assign]
    try:
        await client.connect()
        proxy.stop()
        await until(lambda: client.state == "reconnecting")
        proxy.start()
        await client.wait_connected(WAIT_SECONDS)
        reused = f"ws://127.0.0.1:{server.port}/ws/v1/?ticket={tickets[0]}"
        async with ws_connect(reused) as raw:
            with pytest.raises(ConnectionClosed) as closed:
                await raw.recv()
    finally:
        await client.close()
    anonymous = AgoraClient(server.base_url, **FAST)
    with pytest.raises(ClientClosed) as not_logged_in:
        await anonymous.connect()

    assert client.connections == 2
    assert len(tickets) == len(set(tickets)) == 2
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    assert isinstance(not_logged_in.value.reason, AuthenticationError)


async def test_subscribed_rooms_get_the_comment_events_of_comments_created_over_rest(
    server: LiveServer, connect_as: Any, member: Any, other: Any, post: Any, draft: Any
) -> None:
    room = f"post:{post.pk}"
    reader = await connect_as(member)
    everything, updates = Inbox(), Inbox()
    await reader.subscribe(room, everything)
    reader.add_handler(updates, room=room, event="comment.updated")
    with pytest.raises(FrameError) as refused:
        await reader.subscribe(f"post:{draft.pk}")
    writer = AgoraClient(server.base_url)
    await writer.login(other.username, PASSWORD)

    first = await writer.request(
        "POST", f"posts/{post.pk}/comments", json={"body": "Grüße aus Köln 👋"}
    )
    second = await writer.request("POST", f"posts/{post.pk}/comments", json={"body": "同意"})
    await writer.request("PATCH", f"comments/{first['id']}", json={"body": "Schön 🎉"})
    events = await everything.take(3)

    assert [(e.event, e.data["id"]) for e in events] == [
        ("comment.created", first["id"]),
        ("comment.created", second["id"]),
        ("comment.updated", first["id"]),
    ]
    assert events[0].data["body"] == "Grüße aus Köln 👋"
    assert events[0].id < events[1].id < events[2].id
    assert all(e.room == room for e in events)
    assert [e.data["body"] for e in updates.events] == ["Schön 🎉"]
    assert refused.value.code == "forbidden"
    assert reader.rooms == [f"user:{member.pk}", room]


async def test_presence_lists_then_diffs_and_typing_is_relayed_and_throttled(
    connect_as: Any, member: Any, other: Any, post: Any
) -> None:
    room = f"post:{post.pk}"
    alice = await connect_as(member)
    bob = await connect_as(other)
    changes: list[PresenceChange] = []
    typing: list[tuple[str, dict[str, Any]]] = []
    alice.on_presence(changes.append)
    alice.on_typing(lambda room, user: typing.append((room, user)))

    await alice.subscribe(room)
    await until(lambda: len(changes) == 1)
    await bob.subscribe(room)
    await until(lambda: len(changes) == 2)
    both_online = sorted(user["username"] for user in alice.online(room))
    first = bob.typing(room)
    throttled = bob.typing(room)
    assert first is not None
    await first
    await until(lambda: len(typing) == 1)
    own = alice.typing(room)
    assert own is not None
    await own
    await bob.unsubscribe(room)
    await until(lambda: len(changes) == 3)

    alice_user = {"id": str(member.pk), "username": member.username}
    bob_user = {"id": str(other.pk), "username": other.username}
    assert changes[0] == PresenceChange(room, [alice_user], [], [], full=True)
    assert changes[1] == PresenceChange(room, [alice_user, bob_user], [bob_user], [], full=False)
    assert both_online == sorted([member.username, other.username])
    assert throttled is None
    assert typing == [(room, bob_user)]
    assert changes[2] == PresenceChange(room, [alice_user], [], [bob_user], full=False)
    assert alice.online(room) == [alice_user]


async def test_a_frame_is_acked_a_retried_msg_id_is_a_duplicate_and_errors_reject(
    connect_as: Any, member: Any
) -> None:
    client = await connect_as(member)
    msg_id = new_msg_id()

    first = await client.send({"type": "ping"}, msg_id=msg_id)
    retried = await client.send({"type": "ping"}, msg_id=msg_id)
    generated = await client.send({"type": "ping"})
    with pytest.raises(FrameError) as unknown:
        await client.send({"type": "shout"})
    with pytest.raises(ValueError, match="own method"):
        client.send({"type": "subscribe", "room": "feed"})

    assert first == {"type": "ack", "msg_id": msg_id}
    assert retried == {"type": "ack", "msg_id": msg_id, "duplicate": True}
    assert re.fullmatch(r"[0-9a-f]{32}", generated["msg_id"])
    assert unknown.value.code == "unknown_type"


async def test_frames_sent_while_offline_wait_in_a_bounded_queue_for_the_reconnect(
    connect_as: Any, proxy: TcpProxy, member: Any
) -> None:
    client = await connect_as(member, base_url=proxied(proxy), queue_limit=3)
    proxy.stop()
    await until(lambda: client.state == "reconnecting")

    ids = [new_msg_id() for _ in range(3)]
    queued = [client.send({"type": "ping"}, msg_id=msg_id) for msg_id in ids]
    overflow = client.send({"type": "ping"})
    await asyncio.sleep(0.3)
    waited = [future.done() for future in queued]
    proxy.start()
    acks = await asyncio.wait_for(asyncio.gather(*queued), WAIT_SECONDS)

    assert waited == [False, False, False]
    with pytest.raises(QueueFull):
        await overflow
    assert [ack["msg_id"] for ack in acks] == ids
    assert not any(ack.get("duplicate") for ack in acks)
    assert client.connections == 2


async def test_a_frame_whose_ack_was_lost_is_sent_again_and_answered_duplicate(
    connect_as: Any, proxy: TcpProxy, member: Any
) -> None:
    client = await connect_as(member, base_url=proxied(proxy))
    proxy.freeze_replies()
    msg_id = new_msg_id()

    lost = client.send({"type": "ping"}, msg_id=msg_id)
    # Meanwhile the server handles it; its ack (and this one's) stays in the proxy.
    with pytest.raises(AckTimeout):
        await client.send({"type": "ping"}, timeout=1.0)
    proxy.stop()
    proxy.thaw()
    proxy.start()
    ack = await asyncio.wait_for(lost, WAIT_SECONDS)

    assert ack == {"type": "ack", "msg_id": msg_id, "duplicate": True}
    assert client.connections == 2


async def test_after_a_dropped_connection_the_client_resumes_its_rooms_without_loss(
    server: LiveServer, connect_as: Any, proxy: TcpProxy, member: Any, other: Any, post: Any
) -> None:
    room = f"post:{post.pk}"
    reader = await connect_as(member, base_url=proxied(proxy))
    inbox = Inbox()
    resumed: list[Resumed] = []
    gaps: list[str] = []
    reader.on_resumed(resumed.append)
    reader.on_gap(gaps.append)
    await reader.subscribe(room, inbox)
    writer = AgoraClient(server.base_url)
    await writer.login(other.email, PASSWORD)

    async def comment(body: str) -> str:
        created = await writer.request("POST", f"posts/{post.pk}/comments", json={"body": body})
        return created["id"]

    before = await comment("before the drop")
    await inbox.take(1)
    proxy.stop()
    await until(lambda: reader.state == "reconnecting")
    missed = [await comment("missed 1"), await comment("missed 2")]
    proxy.start()
    await inbox.take(2)
    after = await comment("after the reconnect")
    await inbox.take(1)

    assert [e.data["id"] for e in inbox.events] == [before, *missed, after]
    assert reader.resumed(room) == Resumed(room, 2, True)
    assert Resumed(room, 2, True) in resumed
    assert gaps == []
    assert reader.connections == 2


async def test_a_4401_after_logout_everywhere_ends_the_client_when_refresh_fails(
    connect_as: Any, member: Any
) -> None:
    client = await connect_as(member)
    states: list[str] = []
    client.on_state(states.append)

    await client.request("POST", "auth/logout-all")
    await until(lambda: client.state == "closed")

    assert client.close_code == 4401
    assert isinstance(client.reason, AuthenticationError)
    assert states == ["closed"]
    assert client.connections == 1
    with pytest.raises(ClientClosed):
        await client.send({"type": "ping"})
    with pytest.raises(ClientClosed):
        await client.wait_connected()


@pytest.mark.redis
async def test_a_4401_close_refreshes_the_token_then_reconnects_into_the_same_rooms(
    connect_as: Any, member: Any, post: Any
) -> None:
    from realtime.broadcast import broadcast, connections_close

    room = f"post:{post.pk}"
    client = await connect_as(member)
    inbox = Inbox()
    await client.subscribe(room, inbox)
    refresh_token = client.refresh_token

    await asyncio.to_thread(connections_close, user_id=str(member.pk), session_id=None)
    await until(lambda: client.connections == 2 and client.connected)
    await client.ping()
    event_id = await asyncio.to_thread(broadcast, room, "comment.created", {"id": "after-4401"})
    [event] = await inbox.take(1)

    assert client.close_code == 4401
    assert client.refresh_token != refresh_token
    assert event.id == event_id


def _upload_body(size: int) -> bytes:
    line = "Grüße aus Köln, 李雷 🚀 — a line of a long text document.\n".encode()
    return (line * (size // len(line) + 1))[:size]


async def test_an_upload_interrupted_midway_resumes_where_the_server_stands(
    connect_as: Any, proxy: TcpProxy, member: Any
) -> None:
    client = await connect_as(member, base_url=proxied(proxy))
    data = _upload_body(6 * 256 * 1024 + 1000)
    progress: list[int] = []
    begins: list[tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]] = []
    request = client._request

    def recording_request(frame: dict[str, Any], **options: Any) -> Any:
        """Spies on the client's frames of the current socket, to see its upload.begin."""
        future = request(frame, **options)
        if frame["type"] == "upload.begin":
            begins.append((dict(frame), future))
        return future

    client._request = recording_request  # type: ignore[method-assign]

    def on_progress(received: int, size: int) -> None:
        progress.append(received)
        if len(begins) == 1 and received >= 2 * 256 * 1024:
            proxy.stop()
            proxy.start()

    upload = await asyncio.wait_for(
        client.upload(data, "notes.txt", "text/plain", on_progress=on_progress, window=2),
        WAIT_SECONDS * 2,
    )
    content = await client.request_raw("GET", f"uploads/{upload['id']}/content")

    [(first, first_ack), (again, again_ack)] = begins
    assert client.connections == 2
    assert "upload_id" not in first
    assert (first_ack.result()["upload_id"], first_ack.result()["received"]) == (upload["id"], 0)
    assert again["upload_id"] == upload["id"]
    assert again_ack.result()["msg_id"] != first_ack.result()["msg_id"]
    assert 2 * 256 * 1024 <= again_ack.result()["received"] < len(data)
    assert progress == sorted(progress)
    assert (progress[0], progress[-1]) == (0, len(data))
    assert upload["size"] == len(data)
    assert upload["sha256"] == hashlib.sha256(data).hexdigest()
    assert upload["kind"] == "document"
    assert content.status == 200
    assert content.body == data


@pytest.mark.redis
@pytest.mark.postgres
async def test_a_server_restart_mid_stream_loses_and_repeats_no_event(
    server: LiveServer, connect_as: Any, member: Any, post: Any
) -> None:
    """Runs last: it stops the module's server and starts it again on the same port."""
    from realtime.broadcast import broadcast

    def publish(room: str, count: int, label: str) -> list[str]:
        event = "post.published" if room == "feed" else "comment.created"
        return [broadcast(room, event, {"n": f"{label}-{n}"}) for n in range(count)]

    room = f"post:{post.pk}"
    client = await connect_as(member)
    comments, feed = Inbox(), Inbox()
    presence: list[PresenceChange] = []
    resumed: list[Resumed] = []
    gaps: list[str] = []
    client.on_presence(presence.append)
    client.on_resumed(resumed.append)
    client.on_gap(gaps.append)
    await client.subscribe(room, comments)
    await client.subscribe("feed", feed)
    before = await asyncio.to_thread(publish, room, 2, "before")
    await comments.take(2)

    await asyncio.to_thread(server.stop)
    await until(lambda: not client.connected)
    missed = await asyncio.to_thread(publish, room, 4, "missed")
    missed_feed = await asyncio.to_thread(publish, "feed", 2, "missed-feed")
    await asyncio.to_thread(server.start)
    await comments.take(4)
    await feed.take(2)
    await until(lambda: len(resumed) == 3)
    after = await asyncio.to_thread(publish, room, 1, "after")
    await comments.take(1)

    assert client.close_code == 1012
    assert client.connections == 2
    assert [e.id for e in comments.events] == [*before, *missed, *after]
    assert [e.id for e in feed.events] == missed_feed
    assert [e.data["n"] for e in comments.events][2:6] == [f"missed-{n}" for n in range(4)]
    assert client.resumed(room) == Resumed(room, 4, True)
    assert client.resumed("feed") == Resumed("feed", 2, True)
    assert client.resumed(f"user:{member.pk}") == Resumed(f"user:{member.pk}", 0, True)
    assert gaps == []
    assert [change.full for change in presence] == [True, True]
    assert client.online(room) == [{"id": str(member.pk), "username": member.username}]
