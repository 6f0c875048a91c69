"""The fan-out inside one server process: which of its sockets are in which room.

One hub per event loop (one per server process in production). It subscribes once to the
backend's fan-out and hands each message to the local connections of its room: the cost of an
event is one message per process, its WebSocket frame encoded once (realtime.frames), plus one
write per local socket, whatever the number of processes or rooms. It also beats for this
process (presence of crashed processes expires through the others' beats) and, when its
subscription was lost and came back, catches its rooms up from their logs so no event is
skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import weakref
from collections import defaultdict
from typing import Any, Protocol

from django.conf import settings
from uuid_utils.compat import uuid7

from realtime.backends import backend
from realtime.backends.base import (
    CLOSE,
    EVENT,
    PRESENCE,
    TYPING,
    FanoutMessage,
    fanout_message,
)
from realtime.frames import text_frame

logger = logging.getLogger("agora.realtime")

SUBSCRIBE_TIMEOUT_SECONDS = 5.0


class Connection(Protocol):
    """What the hub needs of a socket (realtime.consumers.RealtimeConsumer)."""

    user_id: str
    member: str

    def push(self, frame: str, wire: bytes | None = None) -> None: ...

    def push_event(
        self, room: str, event_id: str, frame: str, wire: bytes | None = None
    ) -> None: ...

    def revoke(self, session_id: str) -> None: ...


def presence_frame(
    room: str,
    *,
    joined: list[dict[str, Any]] | None = None,
    left: list[dict[str, Any]] | None = None,
    online: list[dict[str, Any]] | None = None,
) -> str:
    frame: dict[str, Any] = {"type": "presence", "room": room}
    if online is not None:
        frame["online"] = online
    frame["joined"] = joined or []
    frame["left"] = left or []
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


class Hub:
    def __init__(self) -> None:
        self.backend = backend()
        self.process_id = ""
        self._sequence = itertools.count(1)
        self.rooms: dict[str, set[Connection]] = defaultdict(set)
        self.users: dict[str, set[Connection]] = defaultdict(set)
        self._last_event: dict[str, str] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.process_id = await self.backend.start_process()
        subscribed = asyncio.Event()
        listener = self.backend.listen(self.dispatch, self._catch_up, subscribed)
        self._tasks = [asyncio.create_task(listener), asyncio.create_task(self._beat())]
        try:
            await asyncio.wait_for(subscribed.wait(), SUBSCRIBE_TIMEOUT_SECONDS)
        except TimeoutError:
            await self.stop()
            raise

    def new_member(self) -> str:
        """A connection's name in the shared state: `<process>/<n>`."""
        return f"{self.process_id}/{next(self._sequence)}"

    # -- local membership --------------------------------------------------------------------
    def add_user(self, connection: Connection) -> None:
        self.users[connection.user_id].add(connection)

    def remove_user(self, connection: Connection) -> None:
        connections = self.users.get(connection.user_id)
        if connections is not None:
            connections.discard(connection)
            if not connections:
                del self.users[connection.user_id]

    def join(self, room: str, connection: Connection) -> None:
        if room not in self.rooms:
            # Where a catch-up after a lost subscription would start for this room.
            self._last_event[room] = str(uuid7())
        self.rooms[room].add(connection)

    def leave(self, room: str, connection: Connection) -> None:
        members = self.rooms.get(room)
        if members is not None:
            members.discard(connection)
            if not members:
                del self.rooms[room]
                self._last_event.pop(room, None)

    # -- fan-out -----------------------------------------------------------------------------
    def dispatch(self, raw: str) -> None:
        """One message from the backend, for this process's sockets (on the hub's loop)."""
        message = FanoutMessage.parse(raw)
        if message.kind == CLOSE:
            for connection in list(self.users.get(message.target, ())):
                connection.revoke(message.extra)
            return
        members = self.rooms.get(message.target)
        if not members:
            return
        # Encoded once here, written as is to every socket that takes it directly.
        wire = text_frame(message.frame)
        if message.kind == EVENT:
            self._last_event[message.target] = message.extra
            for connection in list(members):
                connection.push_event(message.target, message.extra, message.frame, wire)
        elif message.kind == PRESENCE:
            for connection in list(members):
                if connection.member != message.extra:
                    connection.push(message.frame, wire)
        elif message.kind == TYPING:
            for connection in list(members):
                if connection.user_id != message.extra:
                    connection.push(message.frame, wire)

    async def announce_presence(
        self,
        room: str,
        *,
        joined: list[dict[str, Any]] | None = None,
        left: list[dict[str, Any]] | None = None,
        origin: str = "-",
    ) -> None:
        """Tell every process's members of `room` who came or went (not the `origin` socket)."""
        frame = presence_frame(room, joined=joined, left=left)
        await self.backend.publish(fanout_message(PRESENCE, room, origin, frame))

    async def _catch_up(self) -> None:
        """After a lost subscription: the events each local room missed, from its log."""
        for room, last in list(self._last_event.items()):
            replay = await self.backend.replay(room, last)
            for event_id, frame in replay.frames:
                self.dispatch(fanout_message(EVENT, room, event_id, frame))

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(settings.WS_HEARTBEAT_SECONDS)
            try:
                for room, left in await self.backend.heartbeat(self.process_id):
                    await self.announce_presence(room, left=left)
            except Exception:
                logger.exception("realtime heartbeat failed; retrying")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()
_starting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def current_hub() -> Hub:
    """This loop's hub, started on first use (raises when the backend is unreachable)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is not None:
        return hub
    lock = _starting.setdefault(loop, asyncio.Lock())
    async with lock:
        hub = _hubs.get(loop)
        if hub is None:
            hub = Hub()
            await hub.start()
            _hubs[loop] = hub
    return hub
