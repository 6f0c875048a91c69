"""Reads of the background stack: jobs (scoped to their owner; admins see all) and the
heartbeat."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from accounts.models import is_admin
from content.selectors import parse_uuid
from tasks.exceptions import JobNotFound, JobResultGone
from tasks.models import Job, JobStatus, WebhookDelivery, WebhookEndpoint

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


def job_list_all(*, status: str | None = None, kind: str | None = None) -> QuerySet[Job]:
    """Every owner's jobs, newest first, with their owners: for operators (the admin,
    `manage.py jobs`), never for an API caller."""
    jobs = Job.objects.select_related("owner")
    if status:
        jobs = jobs.filter(status=status)
    if kind:
        jobs = jobs.filter(kind=kind)
    return jobs.order_by("-created_at", "-id")


def job_find(*, job_id: uuid.UUID | str) -> Job | None:
    """Any job by id, whoever owns it: for operators at the shell (`manage.py jobs`)."""
    pk = parse_uuid(job_id)
    return Job.objects.filter(pk=pk).first() if pk else None


@dataclass(frozen=True)
class JobStats:
    # (status, kind) -> number of jobs
    counts: dict[tuple[str, str], int]
    # Since when the longest-waiting queued job has been due (`run_after`: its creation, the
    # end of its backoff, or its requeue); None when no job waits.
    oldest_due_at: datetime | None
    # Queued jobs not on the broker: parked behind a cap, waiting out a backoff, or not sent
    # yet because the broker was down; the sweep sends them when their turn comes.
    parked: int
    # Running jobs whose lease went stale: their worker died; the next sweep revives them.
    stale: int


def job_stats() -> JobStats:
    """Counts of jobs by status and kind, and how long the queue's oldest job has waited
    (two queries; the second reads only unfinished rows, through tasks_job_active)."""
    now = timezone.now()
    counts = {
        (row["status"], row["kind"]): row["n"]
        for row in Job.objects.order_by().values("status", "kind").annotate(n=Count("id"))
    }
    active = Job.objects.filter(status__in=(JobStatus.QUEUED, JobStatus.RUNNING)).aggregate(
        oldest=Min("run_after", filter=Q(status=JobStatus.QUEUED, run_after__lte=now)),
        parked=Count("id", filter=Q(status=JobStatus.QUEUED, dispatched_at__isnull=True)),
        stale=Count("id", filter=Q(status=JobStatus.RUNNING, lease_expires_at__lt=now)),
    )
    return JobStats(
        counts=counts,
        oldest_due_at=active["oldest"],
        parked=active["parked"],
        stale=active["stale"],
    )


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


def webhook_endpoint_list(*, actor: Any) -> QuerySet[WebhookEndpoint]:
    """The actor's own endpoints, newest first (admins too see only theirs)."""
    return WebhookEndpoint.objects.filter(owner_id=actor.pk).order_by("-created_at", "-id")


def webhook_endpoint_get(*, actor: Any, endpoint_id: uuid.UUID | str) -> WebhookEndpoint | None:
    """The endpoint if it is the actor's: an endpoint's URL and secret are its owner's
    business only, so anyone else (an admin too) is told it does not exist."""
    pk = parse_uuid(endpoint_id)
    if pk is None:
        return None
    return WebhookEndpoint.objects.filter(pk=pk, owner_id=actor.pk).first()


def webhook_delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """An endpoint's delivery log, newest first, with each delivery's job (whose status says
    whether it is dead)."""
    return (
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .select_related("job")
        .order_by("-created_at", "-id")
    )
