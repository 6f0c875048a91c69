"""Per-room state the client keeps: the last event id, seen ids, presence, the resume."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

# How many event ids per room the client remembers to drop duplicates.
SEEN_IDS_PER_ROOM = 2048
# A room that saw no event yet resumes from the moment it was subscribed, minus this margin for
# the clock difference between client and server (see `floor_event_id`).
CLOCK_MARGIN_SECONDS = 2.0


@dataclass(frozen=True)
class Event:
    """One `event` frame."""

    id: str
    room: str
    event: str
    data: Any
    request_id: str | None = None

    @classmethod
    def from_frame(cls, frame: dict[str, Any]) -> Event:
        return cls(
            id=str(frame["id"]).lower(),
            room=str(frame["room"]),
            event=str(frame.get("event", "")),
            data=frame.get("data"),
            request_id=frame.get("request_id"),
        )


@dataclass(frozen=True)
class PresenceChange:
    """A `presence` frame applied: `online` is the room's whole set afterwards."""

    room: str
    online: list[dict[str, Any]]
    joined: list[dict[str, Any]]
    left: list[dict[str, Any]]
    full: bool


@dataclass(frozen=True)
class Resumed:
    """A `resumed` frame: `count` events were replayed; `complete` False means a gap."""

    room: str
    count: int
    complete: bool


Handler = Callable[[Event], Awaitable[None] | None]


def floor_event_id(at: float) -> str:
    """The smallest UUIDv7 of the millisecond `at` (a Unix time): a `since` that replays every
    event of a room from then on. Event ids are UUIDv7, so they compare as strings by time."""
    hex_ms = f"{int(at * 1000):012x}"
    return f"{hex_ms[:8]}-{hex_ms[8:]}-7000-8000-000000000000"


def _identities(event: Event) -> list[str]:
    """What makes an event the same as another: its id, and for a notification also the
    notification's id (the unread ones come again on every connect, under that id, while the
    live push of the same notification had an event id of its own)."""
    keys = [event.id]
    if event.event == "notification" and isinstance(event.data, dict) and event.data.get("id"):
        keys.append(f"notification:{event.data['id']}")
    return keys


class SeenIds:
    """The last `size` ids, for O(1) duplicate checks."""

    def __init__(self, size: int = SEEN_IDS_PER_ROOM) -> None:
        self._order: deque[str] = deque()
        self._ids: set[str] = set()
        self._size = size

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        if event_id in self._ids:
            return
        self._order.append(event_id)
        self._ids.add(event_id)
        if len(self._order) > self._size:
            self._ids.discard(self._order.popleft())


class Room:
    """A room the application wants: it is (re-)subscribed on every connection."""

    def __init__(self, name: str, *, automatic: bool = False) -> None:
        self.name = name
        # The user's own room is joined by the server on connect; it is never subscribed.
        self.automatic = automatic
        self.last_id: str | None = None
        # Where a resume starts while the room has seen no event (set when it became live).
        self.baseline: str | None = floor_event_id(time.time() - CLOCK_MARGIN_SECONDS)
        self.seen = SeenIds()
        self.online: dict[str, dict[str, Any]] = {}
        self.live_on: int | None = None  # the connection number the room is subscribed on
        self.in_flight = False
        self.waiters: list[asyncio.Future[dict[str, Any]]] = []
        # While a resume runs, events wait here and go out sorted by id once `resumed` came.
        self.held: list[Event] | None = None
        self.resumed: Resumed | None = None
        self.last_typing = float("-inf")
        self.duplicates = 0

    def since(self) -> str | None:
        return self.last_id or self.baseline

    def mark_live(self, connection: int) -> None:
        self.live_on = connection
        if self.last_id is None:
            self.baseline = floor_event_id(time.time() - CLOCK_MARGIN_SECONDS)

    def accept(self, event: Event) -> bool:
        """Whether `event` is new here (and remember it); a duplicate is counted and dropped."""
        keys = _identities(event)
        if any(key in self.seen for key in keys):
            self.duplicates += 1
            return False
        for key in keys:
            self.seen.add(key)
        if self.last_id is None or event.id > self.last_id:
            self.last_id = event.id
        return True

    def apply_presence(self, frame: dict[str, Any]) -> PresenceChange:
        full = isinstance(frame.get("online"), list)
        if full:
            self.online = {str(user["id"]): user for user in frame["online"]}
        joined = list(frame.get("joined") or [])
        left = list(frame.get("left") or [])
        for user in joined:
            self.online[str(user["id"])] = user
        for user in left:
            self.online.pop(str(user["id"]), None)
        return PresenceChange(self.name, list(self.online.values()), joined, left, full)
