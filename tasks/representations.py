"""The job as clients see it: the API's output and the data of `job.finished` events."""

from __future__ import annotations

from typing import Any

from config.core.representations import api_url, iso_time
from tasks.models import Job, JobStatus, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint


def job_result_path(job_id: Any) -> str:
    return f"jobs/{job_id}/result"


def job_representation(job: Job) -> dict[str, Any]:
    return {
        "id": str(job.pk),
        "kind": job.kind,
        "params": job.params,
        "priority": job.priority,
        "status": job.status,
        "progress": job.progress,
        "result": job.result,
        "result_url": api_url(job_result_path(job.pk)) if job.result_file else None,
        "error": job.error or None,
        "attempts": job.attempts,
        "created_at": iso_time(job.created_at),
        "started_at": iso_time(job.started_at),
        "finished_at": iso_time(job.finished_at),
    }


def job_progress_data(job: Job) -> dict[str, Any]:
    """The data of a `job.progress` event (API.md)."""
    return {"id": str(job.pk), "progress": job.progress, "status": job.status}


def webhook_endpoint_representation(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": str(endpoint.pk),
        "url": endpoint.url,
        "events": list(endpoint.events),
        "enabled": endpoint.enabled,
        "disabled_at": iso_time(endpoint.disabled_at),
        "failing_since": iso_time(endpoint.failing_since),
        "previous_secret_expires_at": (
            iso_time(endpoint.previous_secret_expires_at) if endpoint.previous_secret else None
        ),
        "created_at": iso_time(endpoint.created_at),
        "updated_at": iso_time(endpoint.updated_at),
    }


def webhook_delivery_status(delivery: WebhookDelivery) -> str:
    """`dead` once its job is (retries spent, in the dead letters); else the last attempt's
    outcome, `pending` before the first."""
    job = delivery.job
    if job is not None and job.status == JobStatus.DEAD:
        return WebhookDeliveryStatus.DEAD
    return delivery.status


def webhook_delivery_representation(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": str(delivery.pk),
        "event": delivery.event,
        "status": webhook_delivery_status(delivery),
        "attempts": delivery.attempts,
        "response_status": delivery.response_status,
        "error": delivery.error or None,
        "job": str(delivery.job_id) if delivery.job_id else None,
        "created_at": iso_time(delivery.created_at),
        "last_attempt_at": iso_time(delivery.last_attempt_at),
    }
