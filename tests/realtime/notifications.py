"""Notifications for the tests: a factory, bearer-token clients and a room listener."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import factory
from channels.layers import get_channel_layer
from django.utils import timezone
from rest_framework.test import APIClient

from realtime.broadcast import room_group
from realtime.models import Notification, NotificationKind
from tests.factories import UserFactory, bearer

URL = "/api/v1/notifications"
READ_URL = "/api/v1/notifications/read"


class NotificationFactory(factory.django.DjangoModelFactory):
    """An unread `comment_on_post`; `read=True` makes it read."""

    class Meta:
        model = Notification

    class Params:
        read = factory.Trait(read_at=factory.LazyFunction(timezone.now))

    recipient = factory.SubFactory(UserFactory)
    kind = NotificationKind.COMMENT_ON_POST
    data = factory.LazyFunction(
        lambda: {
            "post": {"id": "0193a000-0000-7000-8000-000000000001", "title": "Grüße aus Köln"},
            "comment": {
                "id": "0193a000-0000-7000-8000-000000000002",
                "parent": None,
                "excerpt": "Schön! 👍 李雷 agrees",
            },
            "actor": {"id": "0193a000-0000-7000-8000-000000000003", "username": "siobhán"},
        }
    )


def created_days_ago(notification: Notification, days: float) -> Notification:
    """Move `created_at` back (`auto_now_add` sets it on insert, whatever the factory says)."""
    notification.created_at = timezone.now() - timedelta(days=days)
    Notification.objects.filter(pk=notification.pk).update(created_at=notification.created_at)
    return notification


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(user))
    return client


class RoomListener:
    """A channel-layer member of one room, as a consumer would be.

    Every call runs on the listener's own event loop: channels-redis binds a channel's
    receive buffer to the loop that first read it, so a read that timed out on one
    `async_to_sync` loop would break the next read on another.
    """

    def __init__(self, room: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.layer = get_channel_layer()
        self.group = room_group(room)
        self.channel = self.loop.run_until_complete(self.layer.new_channel())
        self.loop.run_until_complete(self.layer.group_add(self.group, self.channel))

    def next(self, timeout: float = 5) -> dict[str, Any]:
        return self.loop.run_until_complete(
            asyncio.wait_for(self.layer.receive(self.channel), timeout=timeout)
        )

    def nothing(self, timeout: float = 0.5) -> bool:
        """True when no message arrives within `timeout` seconds."""
        try:
            self.next(timeout)
        except TimeoutError:
            return True
        return False

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.layer.group_discard(self.group, self.channel))
        finally:
            self.loop.close()
