"""Following a job over the WebSocket in tests: its owner's connection, `job:<id>` rooms and
the events a real worker publishes there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async

from tests.realtime.helpers import cookie_for, receive_until, ws_connect
from tests.tasks.jobs_http import URL, client_for


@dataclass
class Subscription:
    """The server's answer to a subscribe (`ack` or `error`) and the room's events that
    arrived before it: with `since`, the replayed history comes first, then the ack."""

    answer: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)


async def connect_as(user: Any) -> Any:
    return await ws_connect(cookie=await sync_to_async(cookie_for)(user))


async def subscribe(ws: Any, room: str, **fields: Any) -> Subscription:
    """Subscribe to `room`. With `since` (the job's id: older than its events) the room's
    history replays what the job published before the subscription, as for a client that
    subscribes late; those events are kept, not skipped."""
    await ws.send_json_to({"type": "subscribe", "room": room, "msg_id": room, **fields})
    subscription = Subscription(answer={})
    while True:
        frame = await receive_until(
            ws,
            lambda f: f.get("msg_id") == room or (f["type"] == "event" and f["room"] == room),
        )
        if frame.get("msg_id") == room:
            subscription.answer = frame
            return subscription
        subscription.events.append(frame)


async def post_as(user: Any, kind: str, params: dict[str, Any], **headers: str) -> dict[str, Any]:
    def post() -> Any:
        body = {"kind": kind, "params": params}
        return client_for(user).post(URL, body, format="json", **headers)

    response = await sync_to_async(post)()
    assert response.status_code == 202, response.json()
    return response.json()


async def get_as(user: Any, url: str) -> dict[str, Any]:
    response = await sync_to_async(lambda: client_for(user).get(url))()
    assert response.status_code == 200, response.json()
    return response.json()


async def events_until_finished(ws: Any, room: str, subscription: Subscription) -> list[Any]:
    """Every event of `room` up to and including `job.finished`, the replayed ones first."""
    events = list(subscription.events)
    while not events or events[-1]["event"] != "job.finished":
        events.append(
            await receive_until(
                ws, lambda frame: frame["type"] == "event" and frame["room"] == room, timeout=20
            )
        )
    return events
