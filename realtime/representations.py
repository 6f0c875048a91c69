"""Plain representations of notifications: the API's output and the `notification` event's data.

Plain functions, like content.representations: the REST list and the WebSocket event carry the
same dict, so a client renders both with one piece of code.
"""

from __future__ import annotations

from typing import Any

from config.core.representations import iso_time
from realtime.models import Notification


def notification_representation(notification: Notification) -> dict[str, Any]:
    return {
        "id": str(notification.pk),
        "kind": notification.kind,
        "data": notification.data,
        "read": notification.read_at is not None,
        "created_at": iso_time(notification.created_at),
    }
