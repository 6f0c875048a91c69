"""Helpers for the jobs API tests: bearer clients, posting jobs, waiting for a worker."""

from __future__ import annotations

import time
from typing import Any

from rest_framework.test import APIClient

from tasks.models import Job
from tests.factories import bearer

URL = "/api/v1/jobs"
BATCH_URL = f"{URL}/batch"
DEAD_LETTERS_URL = f"{URL}/dead-letters"
JOB_FIELDS = {
    "id",
    "kind",
    "params",
    "priority",
    "status",
    "progress",
    "result",
    "result_url",
    "error",
    "attempts",
    "created_at",
    "started_at",
    "finished_at",
}


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(user))
    return client


def job_url(job_id: Any, action: str = "") -> str:
    return f"{URL}/{job_id}/{action}".rstrip("/")


def post_job(client: APIClient, kind: str = "noop", params: Any = None, **fields: Any) -> Any:
    body = {"kind": kind, **({"params": params} if params is not None else {}), **fields}
    return client.post(URL, body, format="json")


def started(client: APIClient, kind: str = "noop", params: Any = None, **fields: Any) -> str:
    """Post a job that must be accepted; its id."""
    response = post_job(client, kind, params, **fields)
    assert response.status_code == 202, response.json()
    return response.json()["id"]


def error_of(response: Any) -> dict[str, Any]:
    return response.json()["error"]


def wait_for(
    job_id: Any, condition: Any = None, *, timeout: float = 20, sweep: bool = False
) -> Job:
    """The job once `condition(job)` holds (default: it ended), polling the database.

    `sweep` runs the engine's periodic sweep on every poll, as beat does every few seconds in
    a deployment: it sends retries whose backoff has passed.
    """
    from tasks.models import ENDED_STATUSES
    from tasks.services import jobs_sweep

    condition = condition or (lambda job: job.status in ENDED_STATUSES)
    deadline = time.monotonic() + timeout
    while True:
        job = Job.objects.get(pk=job_id)
        if condition(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.status} after {timeout} s")
        if sweep:
            jobs_sweep()
        time.sleep(0.05)
