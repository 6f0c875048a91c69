"""Shared pieces of the webhook tests: the settings they run under, the receiver fixture,
and driving a delivery's job step by step."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from tasks.models import Job, WebhookDelivery, WebhookEndpoint
from tasks.runner import job_run
from tasks.services.webhooks import secret_generate

URL = "/api/v1/webhooks"
ENDPOINT_FIELDS = {
    "id",
    "url",
    "events",
    "enabled",
    "disabled_at",
    "failing_since",
    "previous_secret_expires_at",
    "created_at",
    "updated_at",
}
DELIVERY_FIELDS = {
    "id",
    "event",
    "status",
    "attempts",
    "response_status",
    "error",
    "job",
    "created_at",
    "last_attempt_at",
}
# Retries in tests wait no real time: the sweep (or a test) makes them due at once.
SCHEDULE = [0.0, 0.0, 0.0]


def endpoint_for(owner: Any, url: str, events: list[str] | None = None) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        owner=owner, url=url, events=events or ["notification"], secret=secret_generate()
    )


def attempt(delivery: WebhookDelivery) -> str | None:
    """Run the delivery's job once, as a worker would, due or not."""
    Job.objects.filter(pk=delivery.job_id).update(run_after=timezone.now())
    return job_run(job_id=str(delivery.job_id), worker="test-worker")


def delivery_url(endpoint_id: Any) -> str:
    return f"{URL}/{endpoint_id}/deliveries"
