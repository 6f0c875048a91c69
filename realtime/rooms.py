"""Rooms: their names and which have presence and typing (realtime.access says who may join).

`user:<id>` is the user's own (joined automatically), `post:<id>` a post the caller can read
(new comments, typing, presence), `feed` new published posts for every signed-in user,
`job:<id>` the caller's own background job.
"""

from __future__ import annotations

import re
from typing import Any

ROOM_PATTERN = re.compile(
    r"^(?P<kind>user|post|job):(?P<id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$|^feed$"
)


def user_room(user_id: Any) -> str:
    return f"user:{user_id}"


def is_room(value: Any) -> bool:
    return isinstance(value, str) and ROOM_PATTERN.match(value) is not None


def has_presence(room: str) -> bool:
    """Presence and typing belong to post rooms (a post's readers and writers)."""
    return room.startswith("post:")
