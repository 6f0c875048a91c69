"""Which events some endpoint wants, cached: an event nobody subscribes to is published without
a query, and every endpoint write (through the API, the ORM, a cascade) is seen at once."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction

from realtime.broadcast import broadcast
from tasks.models import WebhookDelivery, WebhookEndpoint
from tasks.services.webhooks import (
    SUBSCRIBED_EVENTS_KEY,
    SUBSCRIBED_EVENTS_VERSION_KEY,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
    webhook_event_publish,
    webhook_subscribed_events,
)
from tests.factories import UserFactory
from tests.tasks.webhooks_helpers import endpoint_for

pytestmark = pytest.mark.django_db

RECEIVER = "https://hooks.example.org/agora"


@pytest.fixture
def public_receiver(webhook_settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Endpoint URLs are resolved when saved; this one resolves to a public address."""
    from tasks import webhook_transport

    monkeypatch.setattr(webhook_transport, "target_resolve", lambda url: None)


def test_without_endpoints_an_event_costs_no_query(django_assert_num_queries: Any) -> None:
    user = UserFactory()
    webhook_subscribed_events()

    with django_assert_num_queries(0):
        assert webhook_event_publish(f"user:{user.pk}", "notification", {"kind": "x"}) == 0
        assert webhook_event_publish("post:abc", "comment.created", {"id": "1"}) == 0


def test_events_nobody_subscribed_to_cost_no_query(django_assert_num_queries: Any) -> None:
    owner = UserFactory()
    endpoint_for(owner, RECEIVER, ["notification"])
    assert webhook_subscribed_events() == {"notification"}

    with django_assert_num_queries(0):
        assert webhook_event_publish(f"post:{owner.pk}", "comment.created", {"id": "1"}) == 0


def test_an_endpoint_made_after_the_cache_entry_gets_the_next_event() -> None:
    owner = UserFactory()
    assert webhook_subscribed_events() == frozenset()

    endpoint = endpoint_for(owner, RECEIVER, ["notification"])
    broadcast(f"user:{owner.pk}", "notification", {"kind": "comment_on_post"})

    assert WebhookDelivery.objects.get().endpoint == endpoint


def test_api_writes_move_the_subscribed_events(public_receiver: None) -> None:
    owner = UserFactory()
    endpoint, _ = webhook_endpoint_create(actor=owner, url=RECEIVER, events=["notification"])
    assert webhook_subscribed_events() == {"notification"}

    webhook_endpoint_update(actor=owner, endpoint_id=endpoint.pk, events=["comment.created"])
    assert webhook_subscribed_events() == {"comment.created"}

    webhook_endpoint_update(actor=owner, endpoint_id=endpoint.pk, enabled=False)
    assert webhook_subscribed_events() == frozenset()

    webhook_endpoint_update(actor=owner, endpoint_id=endpoint.pk, enabled=True)
    assert webhook_subscribed_events() == {"comment.created"}

    webhook_endpoint_delete(actor=owner, endpoint_id=endpoint.pk)
    assert webhook_subscribed_events() == frozenset()


def test_deleting_the_owner_moves_the_subscribed_events() -> None:
    owner = UserFactory()
    endpoint_for(owner, RECEIVER, ["job.finished"])
    assert webhook_subscribed_events() == {"job.finished"}

    owner.delete()

    assert webhook_subscribed_events() == frozenset()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_version_moves_at_the_write_and_again_at_its_commit() -> None:
    """So an entry computed before the commit by a reader that could not see the new endpoint
    yet is never read after it."""
    owner = UserFactory()
    webhook_subscribed_events()
    versions = [cache.get(SUBSCRIBED_EVENTS_VERSION_KEY) or 1]

    with transaction.atomic():
        endpoint_for(owner, RECEIVER, ["notification"])
        versions.append(cache.get(SUBSCRIBED_EVENTS_VERSION_KEY))
        # What another process computes now, without the uncommitted endpoint.
        cache.set(SUBSCRIBED_EVENTS_KEY, (versions[-1], frozenset()), timeout=60)
    versions.append(cache.get(SUBSCRIBED_EVENTS_VERSION_KEY))

    assert versions == [versions[0], versions[0] + 1, versions[0] + 2]
    assert webhook_subscribed_events() == {"notification"}


def test_a_cache_outage_reads_the_database(settings: Any) -> None:
    owner = UserFactory()
    endpoint_for(owner, RECEIVER, ["notification"])
    settings.CACHES = {
        "default": {
            "BACKEND": "config.core.redis_cache.SharedPoolRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }

    assert webhook_subscribed_events() == {"notification"}
