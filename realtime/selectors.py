"""Reads of notifications, always scoped to their recipient."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from realtime.models import UNREAD, Notification
from realtime.representations import notification_representation

UNREAD_ON_CONNECT_MAX = 100


def notification_list(*, actor: Any, unread: bool | None = None) -> QuerySet[Notification]:
    """The actor's notifications, newest first; only unread (True) or only read (False) ones."""
    notifications = Notification.objects.filter(recipient_id=actor.pk)
    if unread is True:
        notifications = notifications.filter(UNREAD)
    elif unread is False:
        notifications = notifications.filter(read_at__isnull=False)
    return notifications.order_by("-created_at", "-id")


def unread_notifications(
    *, user_id: uuid.UUID | str, limit: int = UNREAD_ON_CONNECT_MAX
) -> list[dict[str, Any]]:
    """A user's newest `limit` unread notifications as representations, oldest first: what a
    WebSocket connection delivers on connect (more are read with `GET notifications`). One
    query; reading them does not mark them read."""
    newest = Notification.objects.filter(UNREAD, recipient_id=user_id).order_by(
        "-created_at", "-id"
    )
    rows = list(newest[:limit])
    rows.reverse()
    return [notification_representation(notification) for notification in rows]
