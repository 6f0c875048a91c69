"""Notifications for the tests: a factory and bearer-token clients."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone
from rest_framework.test import APIClient

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
