"""The job as clients see it: the API's output and the data of `job.finished` events."""

from __future__ import annotations

from typing import Any

from config.core.representations import api_url, iso_time
from tasks.models import Job


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
