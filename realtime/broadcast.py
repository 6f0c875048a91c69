"""The one way to publish a realtime event. Imports no app code: anyone may call it.

`broadcast` appends the event to its room's log (for `resume`) and fans it out to every server
process; call it after the data it announces is committed (`transaction.on_commit`), from
sync code (a request, a task, a command). It raises when the realtime state (Redis) is down;
on-commit callers run it with `robust=True`, so the write stands and the failure is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from config.core.context import current_request_id
from realtime.backends import backend
from realtime.backends.base import ALL_SESSIONS, CLOSE, event_frame_tail, fanout_message
from realtime.rooms import is_room

logger = logging.getLogger("agora.realtime")

Observer = Callable[[str, str, dict[str, Any]], Any]
_observers: list[Observer] = []


def broadcast(room: str, event: str, data: dict[str, Any]) -> str:
    """Send `event` with `data` to everyone in `room`; returns the event id. The observers
    hear of it too, even when the realtime state is down."""
    if not is_room(room):
        raise ValueError(f"Not a room: {room!r}")
    try:
        return backend().publish_event(
            room, event_frame_tail(room, event, data, current_request_id())
        )
    finally:
        _observers_notify(room, event, data)


def broadcast_observe(observer: Observer) -> None:
    """Call `observer(room, event, data)` after every published event, in the publisher's
    thread. The webhooks (tasks.services.webhooks) are one: this module imports no app code,
    so an app hands its observer in when it starts (its AppConfig.ready)."""
    if observer not in _observers:
        _observers.append(observer)


def _observers_notify(room: str, event: str, data: dict[str, Any]) -> None:
    for observer in _observers:
        try:
            observer(room, event, data)
        except Exception:
            # The event is published and its data committed: an observer's failure is its own.
            logger.exception("a broadcast observer failed on %s in %s", event, room)


def connections_close(*, user_id: str, session_id: str | None) -> None:
    """Close a user's connections with 4401: those of one login session, or all of them.

    Best effort: the tokens are already dead in the database; a realtime outage is logged
    rather than failing the request that revoked them (token expiry still closes them).
    """
    message = fanout_message(CLOSE, str(user_id), session_id or ALL_SESSIONS, "")
    try:
        backend().publish_sync(message)
    except Exception:
        logger.exception("could not close the connections of user %s", user_id)
