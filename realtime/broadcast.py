"""The one way to push an event to WebSocket rooms. Imports no app code: anyone may call it.

Call it after the data it announces is committed (`transaction.on_commit`), from sync code.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from uuid_utils.compat import uuid7

from config.core.context import current_request_id

ROOM_PATTERN = re.compile(r"^(user|post|job):[0-9a-fA-F-]{36}$|^feed$")
ROOM_EVENT_HANDLER = "room.event"
CONNECTIONS_CLOSE_HANDLER = "auth.revoked"

logger = logging.getLogger("agora.realtime")


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


def connections_close(*, user_id: str, session_id: str | None) -> None:
    """Close a user's connections with 4401: those of one login session, or all of them.

    Best effort: the tokens are already dead in the database; a channel-layer outage is
    logged rather than failing the request that revoked them.
    """
    message = {"type": CONNECTIONS_CLOSE_HANDLER, "session_id": session_id}
    try:
        async_to_sync(get_channel_layer().group_send)(room_group(f"user:{user_id}"), message)
    except Exception:
        logger.exception("could not close the connections of user %s", user_id)
