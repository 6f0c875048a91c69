"""The one way to push an event to WebSocket rooms. Imports no app code: anyone may call it.

Call it after the data it announces is committed (`transaction.on_commit`), from sync code.
"""

from __future__ import annotations

import re
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from uuid_utils.compat import uuid7

from config.context import current_request_id

ROOM_PATTERN = re.compile(r"^(user|post|job):[0-9a-fA-F-]{36}$|^feed$")
ROOM_EVENT_HANDLER = "room.event"


def room_group(room: str) -> str:
    """The channel-layer group of a room (group names allow no colon)."""
    if not ROOM_PATTERN.match(room):
        raise ValueError(f"Not a room: {room!r}")
    return "room." + room.replace(":", ".")


def room_event(room: str, event: str, data: dict[str, Any]) -> dict[str, Any]:
    """The frame clients receive, as a channel-layer message for the room's consumers."""
    return {
        "type": ROOM_EVENT_HANDLER,
        "id": str(uuid7()),
        "room": room,
        "event": event,
        "data": data,
        "request_id": current_request_id(),
    }


def broadcast(room: str, event: str, data: dict[str, Any]) -> str:
    """Send `event` with `data` to everyone in `room`; returns the event id."""
    message = room_event(room, event, data)
    async_to_sync(get_channel_layer().group_send)(room_group(room), message)
    return message["id"]
