"""Writes and side effects of the background stack: the job engine and the heartbeat."""

from tasks.services.heartbeat import heartbeat_record
from tasks.services.jobs import (
    job_cancel,
    job_create,
    job_requeue,
    job_results_purge,
    jobs_broker_lost,
    jobs_create,
    jobs_release,
    jobs_sweep,
    jobs_validate,
)

__all__ = [
    "heartbeat_record",
    "job_cancel",
    "job_create",
    "job_requeue",
    "job_results_purge",
    "jobs_broker_lost",
    "jobs_create",
    "jobs_release",
    "jobs_sweep",
    "jobs_validate",
]
