"""The interface the hub and `broadcast` use, and the wire format between processes.

A fan-out message is one string: a header line `<kind> <target> <extra>` and the frame text a
client receives, so a process forwards an event to its sockets without decoding or encoding it
again (one serialisation per event, whatever the number of sockets).

kinds: `e` event (target room, extra event id), `p` presence (room), `t` typing (room, extra
the typing user's id: their own connections do not get it), `c` close the connections of a
user (target user id, extra the login session id or `*`; no frame).
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

EVENT = "e"
PRESENCE = "p"
TYPING = "t"
CLOSE = "c"
ALL_SESSIONS = "*"

MessageHandler = Callable[[str], None]


def fanout_message(kind: str, target: str, extra: str, frame: str) -> str:
    return f"{kind} {target} {extra}\n{frame}"


@dataclass(frozen=True)
class FanoutMessage:
    kind: str
    target: str
    extra: str
    frame: str

    @classmethod
    def parse(cls, raw: str) -> FanoutMessage:
        header, _, frame = raw.partition("\n")
        kind, target, extra = [*header.split(" ", 2), "", ""][:3]
        return cls(kind, target, extra, frame)


def event_frame_tail(room: str, event: str, data: dict[str, Any], request_id: str | None) -> str:
    """The event frame after its id: `{"type":"event","id":"…",` + this. The id is chosen where
    the event is appended to its room's log, so ids and log order always agree."""
    body = json.dumps(
        {"room": room, "event": event, "data": data, "request_id": request_id},
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return body[1:]


def event_frame(event_id: str, tail: str) -> str:
    return '{"type":"event","id":"' + event_id + '",' + tail


def uuid7_time(event_id: str) -> datetime | None:
    """The creation time inside a UUIDv7 (its first 48 bits are Unix milliseconds)."""
    try:
        millis = int(event_id.replace("-", "")[:12], 16)
    except ValueError:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


@dataclass(frozen=True)
class Replay:
    """Kept events of a room after a given id, oldest first, as frame texts; `complete` is
    False when events between that id and the oldest kept one may have been dropped."""

    frames: list[tuple[str, str]]
    complete: bool


def history_covers(since: str, floor: str | None, *, now: datetime) -> bool:
    """Whether nothing after `since` was dropped from a log whose newest dropped id is `floor`
    (None: nothing dropped while the log has existed; an idle log expires, and a `since`
    older than that expiry may have missed events that expired with it)."""
    if floor is not None:
        return since >= floor
    created = uuid7_time(since)
    if created is None:
        return False
    return (now - created).total_seconds() < settings.WS_HISTORY_IDLE_SECONDS


class RealtimeBackend(ABC):
    """Shared state of the realtime server; the sync methods may be called from any thread."""

    name: str

    # -- events ------------------------------------------------------------------------------
    @abstractmethod
    def publish_event(self, room: str, tail: str) -> str:
        """Append an event to the room's log and fan it out; returns its id (sync)."""

    @abstractmethod
    async def replay(self, room: str, since: str) -> Replay:
        """The kept events of `room` after `since`."""

    # -- fan-out of frames that are not kept -------------------------------------------------
    @abstractmethod
    async def publish(self, message: str) -> None:
        """Send a fan-out message (presence, typing) to every server process."""

    @abstractmethod
    def publish_sync(self, message: str) -> None:
        """The same from sync code (any thread)."""

    @abstractmethod
    async def listen(
        self,
        handler: MessageHandler,
        on_reconnect: Callable[[], Awaitable[None]],
        subscribed: asyncio.Event,
    ) -> None:
        """Deliver every fan-out message to `handler` on this loop, forever. `subscribed` is
        set once messages flow; after a lost subscription comes back, `on_reconnect` lets the
        hub catch up from the logs."""

    # -- presence (rooms with presence only) and connections ---------------------------------
    @abstractmethod
    async def start_process(self) -> str:
        """Register this server process; returns its id."""

    @abstractmethod
    async def heartbeat(self, process_id: str) -> list[tuple[str, list[dict[str, Any]]]]:
        """Keep this process alive and retire dead ones; returns `(room, users who left)` for
        the members of dead processes, so the caller can announce them."""

    @abstractmethod
    async def connection_open(self, user_id: str, member: str, limit: int) -> bool:
        """Count a connection of `user_id`; False (and nothing counted) over `limit`."""

    @abstractmethod
    async def connection_close(self, user_id: str, member: str) -> None: ...

    @abstractmethod
    async def presence_join(self, room: str, member: str, user: dict[str, Any]) -> bool:
        """Add a connection to a room; True when its user was not online there yet."""

    @abstractmethod
    async def presence_leave(self, room: str, member: str) -> dict[str, Any] | None:
        """Remove a connection; the user when it was their last connection in the room."""

    @abstractmethod
    async def presence_online(self, room: str) -> list[dict[str, Any]]: ...

    # -- throttles and de-duplication --------------------------------------------------------
    @abstractmethod
    async def typing_allowed(self, room: str, user_id: str) -> bool:
        """At most one typing relay per user per room per second."""

    @abstractmethod
    async def claim_msg_id(self, user_id: str, msg_id: str) -> str | None:
        """None when `msg_id` is new for this user (it is now claimed); else what `store_ack`
        kept for it (`{}` while the first one is still being handled)."""

    @abstractmethod
    async def store_ack(self, user_id: str, msg_id: str, extras: str) -> None:
        """Keep the JSON object of an ack's fields, for the retries of that message."""

    @abstractmethod
    async def release_msg_id(self, user_id: str, msg_id: str) -> None:
        """Forget a claimed id whose message failed, so a retry is handled again."""

    @abstractmethod
    def ping(self) -> None:
        """A round trip to the shared state (health checks); raises when it is down."""


def uuid_successor(value: str) -> str:
    """The next UUID string after `value` (its last hex digits counted up by one): an event id
    that must sort after the room's newest one when clocks or processes disagree."""
    digits = list(value)
    for index in range(len(digits) - 1, -1, -1):
        if digits[index] == "-":
            continue
        number = int(digits[index], 16)
        if number < 15:
            digits[index] = format(number + 1, "x")
            return "".join(digits)
        digits[index] = "0"
    return "".join(digits)
