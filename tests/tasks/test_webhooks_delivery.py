"""Deliveries, attempt by attempt (each a run of the delivery's job, as a worker runs it):
the Standard Webhooks signature checked by that project's own Python library, a webhook-id
stable across retries, dead after the schedule and requeued through the dead letters, secret
rotation, an endpoint disabled after days of failures, and which endpoints an event reaches."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from content.services import comment_create, post_create
from realtime.broadcast import broadcast
from tasks.models import Job, JobStatus, WebhookDelivery, WebhookEndpoint
from tasks.representations import webhook_delivery_representation
from tasks.services import job_requeue
from tasks.services.webhooks import (
    webhook_endpoint_update,
    webhook_event_publish,
    webhook_ping,
)
from tests.factories import AdminFactory, UserFactory
from tests.tasks.webhook_receiver import Receiver
from tests.tasks.webhooks_helpers import SCHEDULE, attempt, endpoint_for

pytestmark = pytest.mark.django_db


def notify(user: Any, data: dict[str, Any] | None = None) -> WebhookDelivery:
    """Publish a `notification` event to the user's room; the one delivery it made."""
    broadcast(f"user:{user.pk}", "notification", data or {"kind": "comment_on_post"})
    return WebhookDelivery.objects.latest("created_at")


def test_a_delivery_verifies_with_the_standard_webhooks_library(receiver: Receiver) -> None:
    endpoint = endpoint_for(UserFactory(), receiver.url)
    delivery = notify(endpoint.owner, {"kind": "comment_on_post", "note": "Grüß Gott, 李雷 🎉"})

    assert attempt(delivery) == "succeeded"

    (got,) = receiver.received
    payload = Webhook(endpoint.secret).verify(got.body, got.headers)
    assert payload["type"] == "notification"
    assert payload["data"] == {"kind": "comment_on_post", "note": "Grüß Gott, 李雷 🎉"}
    assert set(payload) == {"type", "timestamp", "data"}
    assert got.headers["webhook-id"] == str(delivery.pk)
    assert got.headers["x-agora-event"] == "notification"
    assert got.headers["content-type"] == "application/json"


def test_a_signature_with_another_secret_does_not_verify(receiver: Receiver) -> None:
    endpoint = endpoint_for(UserFactory(), receiver.url)
    attempt(notify(endpoint.owner))

    (got,) = receiver.received
    other = endpoint_for(UserFactory(), receiver.url).secret
    with pytest.raises(Exception, match="signature"):
        Webhook(other).verify(got.body, got.headers)


def test_a_failed_delivery_is_retried_with_the_same_webhook_id_and_body(
    receiver: Receiver,
) -> None:
    endpoint = endpoint_for(UserFactory(), receiver.url)
    delivery = notify(endpoint.owner)
    receiver.mode = "fail"

    assert attempt(delivery) == JobStatus.QUEUED
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 1, 500)
    assert delivery.error == "HTTP 500: receiver broke"
    receiver.mode = "ok"
    assert attempt(delivery) == "succeeded"

    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(delivery.pk)
    assert first.body == second.body
    for got in (first, second):
        Webhook(endpoint.secret).verify(got.body, got.headers)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 2, 200)


def test_retries_follow_the_schedule_with_jitter(webhook_settings: Any) -> None:
    webhook_settings.WEBHOOK_RETRY_SCHEDULE = [5.0, 300.0, 1800.0]
    endpoint = endpoint_for(UserFactory(), "http://127.0.0.2:9/hook")
    delivery = notify(endpoint.owner)
    job = Job.objects.get(pk=delivery.job_id)
    assert job.max_attempts == 4

    waits = []
    for _ in range(3):
        before = timezone.now()
        attempt(delivery)
        job.refresh_from_db()
        waits.append((job.run_after - before).total_seconds())

    for wait, delay in zip(waits, [5.0, 300.0, 1800.0], strict=True):
        assert delay * 0.8 - 1 <= wait <= delay * 1.2 + 1


def test_a_delivery_whose_retries_are_spent_is_dead_and_a_requeue_sends_it_again(
    receiver: Receiver,
) -> None:
    endpoint = endpoint_for(UserFactory(), receiver.url)
    delivery = notify(endpoint.owner)
    receiver.mode = "fail"

    outcomes = [attempt(delivery) for _ in range(len(SCHEDULE) + 1)]

    assert outcomes[-1] == JobStatus.DEAD
    delivery.refresh_from_db()
    assert webhook_delivery_representation(delivery)["status"] == "dead"
    assert delivery.attempts == len(SCHEDULE) + 1
    receiver.mode = "ok"
    job_requeue(actor=AdminFactory(), job_id=delivery.job_id)
    assert attempt(delivery) == "succeeded"
    delivery.refresh_from_db()
    assert webhook_delivery_representation(delivery)["status"] == "succeeded"
    assert set(receiver.ids()) == {str(delivery.pk)}


def test_after_a_rotation_both_secrets_verify_for_a_day(receiver: Receiver) -> None:
    endpoint = endpoint_for(UserFactory(), receiver.url)
    old = endpoint.secret
    new = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
    webhook_endpoint_update(actor=endpoint.owner, endpoint_id=endpoint.pk, secret=new)

    attempt(notify(endpoint.owner))
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    attempt(notify(endpoint.owner))

    during, after = receiver.received
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(during.body, during.headers)
    Webhook(new).verify(during.body, during.headers)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(after.body, after.headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(old).verify(after.body, after.headers)


def test_an_endpoint_failing_for_days_is_disabled_and_its_owner_enables_it_again(
    receiver: Receiver,
) -> None:
    endpoint = endpoint_for(UserFactory(), receiver.url)
    receiver.mode = "fail"
    attempt(notify(endpoint.owner))
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=5, minutes=1)
    )

    attempt(notify(endpoint.owner))

    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_at is not None) == (False, True)
    assert notify_count(endpoint.owner) == 0
    webhook_endpoint_update(actor=endpoint.owner, endpoint_id=endpoint.pk, enabled=True)
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_at, endpoint.failing_since) == (True, None, None)


def notify_count(user: Any) -> int:
    return webhook_event_publish(f"user:{user.pk}", "notification", {"kind": "comment_on_post"})


def test_a_success_ends_the_failure_streak(receiver: Receiver) -> None:
    endpoint = endpoint_for(UserFactory(), receiver.url)
    receiver.mode = "fail"
    attempt(notify(endpoint.owner))
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    receiver.mode = "ok"

    attempt(notify(endpoint.owner))

    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_a_pending_delivery_of_a_disabled_endpoint_ends_without_a_request(
    receiver: Receiver,
) -> None:
    endpoint = endpoint_for(UserFactory(), receiver.url)
    delivery = notify(endpoint.owner)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False)

    assert attempt(delivery) == JobStatus.FAILED

    delivery.refresh_from_db()
    assert (delivery.status, delivery.error) == ("failed", "The endpoint is disabled.")
    assert receiver.received == []


def test_a_ping_reaches_a_disabled_endpoint(receiver: Receiver) -> None:
    endpoint = endpoint_for(UserFactory(), receiver.url)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False)

    attempt(webhook_ping(actor=endpoint.owner, endpoint_id=endpoint.pk))

    (got,) = receiver.received
    payload = Webhook(endpoint.secret).verify(got.body, got.headers)
    assert (payload["type"], payload["data"]["endpoint"]) == ("ping", str(endpoint.pk))
    assert got.headers["x-agora-event"] == "ping"


def test_the_delivery_of_a_deleted_endpoint_ends_failed(receiver: Receiver) -> None:
    endpoint = endpoint_for(UserFactory(), receiver.url)
    delivery = notify(endpoint.owner)
    job_id = delivery.job_id
    endpoint.delete()

    from tasks.runner import job_run

    assert job_run(job_id=str(job_id), worker="test-worker") == JobStatus.FAILED
    assert receiver.received == []


def test_a_delivery_job_is_no_job_finished_notification_and_no_webhook_of_its_own(
    receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    owner = UserFactory()
    endpoint_for(owner, receiver.url, ["job.progress", "job.finished", "notification"])
    delivery = notify(owner)

    with django_capture_on_commit_callbacks(execute=True):
        attempt(delivery)

    assert WebhookDelivery.objects.count() == 1
    assert [got.headers["x-agora-event"] for got in receiver.received] == ["notification"]


# --- which endpoints an event reaches ---------------------------------------------------------


def test_comments_on_a_post_reach_its_authors_endpoint_and_not_the_commenters(
    webhook_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    author, commenter = UserFactory(), UserFactory()
    authors = endpoint_for(author, "http://127.0.0.2:9/a", ["comment.created"])
    commenters = endpoint_for(commenter, "http://127.0.0.2:9/c", ["comment.created"])
    with django_capture_on_commit_callbacks(execute=True):
        post = post_create(actor=author, title="Über Müller", body="…", status="published")
    with django_capture_on_commit_callbacks(execute=True):
        comment = comment_create(actor=commenter, post=post, body="O'Brien was here")

    (delivery,) = WebhookDelivery.objects.filter(event="comment.created")
    assert delivery.endpoint_id == authors.pk
    assert json.loads(delivery.body)["data"]["id"] == str(comment.pk)
    assert not WebhookDelivery.objects.filter(endpoint=commenters).exists()


def test_a_published_post_reaches_its_authors_endpoint_and_every_admins(
    webhook_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    author, stranger, admin = UserFactory(), UserFactory(), AdminFactory()
    authors = endpoint_for(author, "http://127.0.0.2:9/a", ["post.published"])
    endpoint_for(stranger, "http://127.0.0.2:9/s", ["post.published"])
    admins = endpoint_for(admin, "http://127.0.0.2:9/admin", ["post.published"])

    with django_capture_on_commit_callbacks(execute=True):
        post_create(actor=author, title="Hello 李雷", body="…", status="published")

    reached = set(WebhookDelivery.objects.values_list("endpoint_id", flat=True))
    assert reached == {authors.pk, admins.pk}


def test_an_endpoint_gets_only_the_events_it_subscribed_to(webhook_settings: Any) -> None:
    owner = UserFactory()
    endpoint_for(owner, "http://127.0.0.2:9/a", ["job.finished"])

    assert notify_count(owner) == 0
    assert WebhookDelivery.objects.count() == 0


def test_an_admins_endpoint_gets_others_job_events(webhook_settings: Any) -> None:
    admin, owner = AdminFactory(), UserFactory()
    admins = endpoint_for(admin, "http://127.0.0.2:9/admin", ["job.finished"])
    job = Job.objects.create(
        owner=owner, kind="noop", params={}, dedupe_key="x", run_after=timezone.now()
    )

    assert webhook_event_publish(f"job:{job.pk}", "job.finished", {"id": str(job.pk)}) == 1
    assert WebhookDelivery.objects.get().endpoint_id == admins.pk
