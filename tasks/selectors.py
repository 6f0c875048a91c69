"""Reads of the background stack: jobs (scoped to their owner; admins see all) and the
heartbeat."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import is_admin
from content.selectors import parse_uuid
from tasks.exceptions import JobNotFound, JobResultGone
from tasks.models import Job, JobStatus

HEARTBEAT_CACHE_KEY = "tasks:heartbeat"


def heartbeat_last() -> str | None:
    """When beat last ran the heartbeat (ISO time), if the cache still knows."""
    try:
        return cache.get(HEARTBEAT_CACHE_KEY)
    except Exception:  # noqa: BLE001 - the cache probe reports cache outages itself
        return None


def job_list(
    *, actor: Any, status: str | None = None, kind: str | None = None, everyone: bool = False
) -> QuerySet[Job]:
    """The actor's jobs, newest first; every job for an admin who asks for `everyone`."""
    jobs = Job.objects.all() if everyone and is_admin(actor) else Job.objects.filter(owner=actor)
    if status:
        jobs = jobs.filter(status=status)
    if kind:
        jobs = jobs.filter(kind=kind)
    return jobs.order_by("-created_at", "-id")


def job_dead_letters() -> QuerySet[Job]:
    """Jobs that used up their retries, most recent first (admins)."""
    return Job.objects.filter(status=JobStatus.DEAD).order_by("-finished_at", "-id")


def job_get(*, actor: Any, job_id: uuid.UUID | str) -> Job | None:
    """The job if the actor may see it: its owner, or an admin."""
    pk = parse_uuid(job_id)
    if pk is None:
        return None
    jobs = Job.objects.all() if is_admin(actor) else Job.objects.filter(owner_id=actor.pk)
    return jobs.filter(pk=pk).first()


def job_owned(*, user_id: Any, job_id: uuid.UUID | str) -> bool:
    """Whether the job is the user's own (its `job:<id>` WebSocket room)."""
    pk = parse_uuid(job_id)
    return pk is not None and Job.objects.filter(pk=pk, owner_id=user_id).exists()


def job_result_file(*, actor: Any, job_id: uuid.UUID | str) -> Job:
    """The job whose result file the actor downloads (its owner only). Raises JobNotFound
    (no such job, not theirs, no file) or JobResultGone (expired after JOB_RESULT_TTL)."""
    pk = parse_uuid(job_id)
    job = Job.objects.filter(pk=pk, owner_id=actor.pk).first() if pk else None
    if job is None or job.result_expires_at is None:
        raise JobNotFound("This job has no result file.")
    if job.result_expires_at <= timezone.now() or not job.result_file:
        raise JobResultGone()
    return job
