"""The embedded mode's realtime state: one server process, everything in its memory.

`broadcast` is called from request threads and the embedded worker's threads, while the
sockets live on the server's event loop: every fan-out is handed to that loop with
`call_soon_threadsafe`, and the state is guarded by one lock.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from uuid_utils.compat import uuid7

from realtime.backends.base import (
    EVENT,
    MessageHandler,
    RealtimeBackend,
    Replay,
    event_frame,
    fanout_message,
    history_covers,
    uuid_successor,
)

MSG_IDS_KEPT = 100_000


class _RoomLog:
    def __init__(self, size: int) -> None:
        self.events: deque[tuple[str, str]] = deque(maxlen=size)
        self.floor: str | None = None
        self.touched = time.monotonic()


class MemoryBackend(RealtimeBackend):
    name = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: dict[str, _RoomLog] = {}
        self._listener: tuple[asyncio.AbstractEventLoop, MessageHandler] | None = None
        self._connections: dict[str, set[str]] = defaultdict(set)
        self._members: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self._typing: dict[tuple[str, str], float] = {}
        self._msg_ids: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()

    # -- events ------------------------------------------------------------------------------
    def publish_event(self, room: str, tail: str) -> str:
        with self._lock:
            log = self._logs.get(room)
            idle = settings.WS_HISTORY_IDLE_SECONDS
            if log is None or time.monotonic() - log.touched > idle:
                log = self._logs[room] = _RoomLog(settings.WS_HISTORY_EVENTS)
            event_id = str(uuid7())
            if log.events and event_id <= log.events[-1][0]:
                event_id = uuid_successor(log.events[-1][0])
            if len(log.events) == log.events.maxlen:
                log.floor = log.events[0][0]
            frame = event_frame(event_id, tail)
            log.events.append((event_id, frame))
            log.touched = time.monotonic()
            self._deliver(fanout_message(EVENT, room, event_id, frame))
        return event_id

    async def replay(self, room: str, since: str) -> Replay:
        with self._lock:
            log = self._logs.get(room)
            if log is None:
                return Replay([], history_covers(since, None, now=datetime.now(UTC)))
            frames = [(event_id, frame) for event_id, frame in log.events if event_id > since]
            return Replay(frames, history_covers(since, log.floor, now=datetime.now(UTC)))

    # -- fan-out -----------------------------------------------------------------------------
    def _deliver(self, message: str) -> None:
        listener = self._listener
        if listener is None:
            return
        loop, handler = listener
        if loop.is_closed():
            self._listener = None
            return
        loop.call_soon_threadsafe(handler, message)

    async def publish(self, message: str) -> None:
        self._deliver(message)

    def publish_sync(self, message: str) -> None:
        self._deliver(message)

    async def listen(
        self,
        handler: MessageHandler,
        on_reconnect: Callable[[], Awaitable[None]],
        subscribed: asyncio.Event,
    ) -> None:
        self._listener = (asyncio.get_running_loop(), handler)
        subscribed.set()
        await asyncio.Event().wait()

    # -- presence and connections ------------------------------------------------------------
    async def start_process(self) -> str:
        return "local"

    async def heartbeat(self, process_id: str) -> list[tuple[str, list[dict[str, Any]]]]:
        now = time.monotonic()
        with self._lock:
            for key, at in list(self._typing.items()):
                if now - at > 1.0:
                    del self._typing[key]
        return []

    async def connection_open(self, user_id: str, member: str, limit: int) -> bool:
        with self._lock:
            members = self._connections[user_id]
            if len(members) >= limit:
                return False
            members.add(member)
            return True

    async def connection_close(self, user_id: str, member: str) -> None:
        with self._lock:
            members = self._connections.get(user_id)
            if members is not None:
                members.discard(member)
                if not members:
                    del self._connections[user_id]

    async def presence_join(self, room: str, member: str, user: dict[str, Any]) -> bool:
        with self._lock:
            members = self._members[room]
            already = any(other["id"] == user["id"] for other in members.values())
            members[member] = user
            return not already

    async def presence_leave(self, room: str, member: str) -> dict[str, Any] | None:
        with self._lock:
            members = self._members.get(room)
            if not members or member not in members:
                return None
            user = members.pop(member)
            if not members:
                del self._members[room]
                return user
            return None if any(o["id"] == user["id"] for o in members.values()) else user

    async def presence_online(self, room: str) -> list[dict[str, Any]]:
        with self._lock:
            unique = {user["id"]: user for user in self._members.get(room, {}).values()}
        return list(unique.values())

    # -- throttles and de-duplication --------------------------------------------------------
    async def typing_allowed(self, room: str, user_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._typing.get((room, user_id))
            if last is not None and now - last < 1.0:
                return False
            self._typing[(room, user_id)] = now
            return True

    async def claim_msg_id(self, user_id: str, msg_id: str) -> str | None:
        now = time.monotonic()
        key = (user_id, msg_id)
        with self._lock:
            seen = self._msg_ids.get(key)
            if seen is not None and now - seen[0] < settings.WS_MSG_ID_TTL_SECONDS:
                return seen[1]
            self._msg_ids[key] = (now, "{}")
            self._msg_ids.move_to_end(key)
            while len(self._msg_ids) > MSG_IDS_KEPT:
                self._msg_ids.popitem(last=False)
        return None

    async def store_ack(self, user_id: str, msg_id: str, extras: str) -> None:
        with self._lock:
            if (user_id, msg_id) in self._msg_ids:
                self._msg_ids[(user_id, msg_id)] = (time.monotonic(), extras)

    async def release_msg_id(self, user_id: str, msg_id: str) -> None:
        with self._lock:
            self._msg_ids.pop((user_id, msg_id), None)

    def ping(self) -> None:
        return None
