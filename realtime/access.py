"""Who may join which room: the domain selectors decide (runs queries: call it off the loop)."""

from __future__ import annotations

import uuid
from typing import Any

from content.selectors import post_get
from realtime.rooms import ROOM_PATTERN
from tasks.selectors import job_owned


def may_join(user: Any, room: str) -> bool:
    """Whether `user` may subscribe to `room` (runs queries: call it off the event loop)."""
    match = ROOM_PATTERN.match(room)
    if match is None:
        return False
    if room == "feed":
        return True
    kind, object_id = match["kind"], uuid.UUID(match["id"])
    if kind == "user":
        return object_id == user.pk
    if kind == "post":
        return post_get(actor=user, post_id=object_id) is not None
    if kind == "job":
        return job_owned(user_id=user.pk, job_id=object_id)
    return False
