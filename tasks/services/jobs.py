"""The job engine's writes: every change of a Job row's state happens here (tasks.models).

Each transition is one conditional UPDATE (`… WHERE status = 'running' AND attempts = n`), so
two workers never both run a job and a worker whose lease was taken over cannot overwrite the
row. Side effects (dispatch to the broker, events, notifications) follow the commit.

Fairness: a job whose owner already has JOB_USER_CONCURRENCY jobs in flight (running, or sent
to the broker), or whose kind is at its cap, is not sent; it waits in the table ("parked",
`dispatched_at IS NULL`) and leaves when a job of that owner or kind ends, most urgent and
oldest first. So the broker never holds one user's backlog in front of everyone else.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Count, F, IntegerField, Q, UUIDField, Value, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from accounts.models import User
from audits.services import audit_record_write
from config.core.context import current_request_id
from config.core.errors import ValidationFailed
from realtime.broadcast import broadcast
from realtime.models import NotificationKind
from realtime.services import notification_create
from tasks.exceptions import JobCancelled, JobLost, JobNotFound, JobStateConflict
from tasks.kinds import (
    JobKind,
    kind_concurrency,
    kind_get,
    kinds,
    owner_uncapped_kinds,
    requestable_kinds,
)
from tasks.models import (
    JOB_ERROR_MAX_LENGTH,
    PRIORITY_ORDER,
    Job,
    JobPriority,
    JobStatus,
)
from tasks.representations import job_progress_data, job_representation
from tasks.results import result_delete

logger = logging.getLogger("agora.tasks")

RUN_JOB_TASK = "tasks.run_job"
QUEUE_BY_PRIORITY = {priority.value: f"jobs.{priority.value}" for priority in JobPriority}
BATCH_MAX_JOBS = 100
RETRY_MAX_SECONDS = 3600.0
# After a failed publish, leave dispatching to the sweep for this long instead of making
# every request wait on a broker that is down.
BROKER_REST_SECONDS = 5.0
# Parked jobs considered per pass of jobs_release (at most JOB_USER_CONCURRENCY per owner).
RELEASE_BATCH = 500
TARGET = "job"

_local_lock = threading.Lock()
_broker_resting_until = 0.0


# --- create -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobRequest:
    kind: str
    params: dict[str, Any]
    priority: str = JobPriority.NORMAL


def job_create(
    *,
    actor: User,
    kind: str,
    params: dict[str, Any] | None = None,
    priority: str = JobPriority.NORMAL,
    notify: bool = True,
) -> Job:
    """Accept a job for `actor`, or return the identical one already queued, running, or
    succeeded within JOB_DEDUPE_SECONDS. Written in the caller's transaction; sent to the
    broker once that commits (or later by the sweep, if the broker is down)."""
    cleaned = _request_clean(actor, JobRequest(kind=kind, params=params or {}, priority=priority))
    return _job_insert(actor, cleaned, notify=notify)


def job_start_for(
    *, owner: User, kind: str, params: dict[str, Any], priority: str = JobPriority.NORMAL
) -> Job:
    """A job the server starts by itself on `owner`'s behalf (a webhook delivery), with params
    it built: not checked by the kind's `clean`, never deduplicated against another, and no
    `job_finished` notification. Written in the caller's transaction, sent after its commit."""
    return _job_insert(owner, JobRequest(kind=kind, params=params, priority=priority), notify=False)


def jobs_create(*, actor: User, requests: Sequence[JobRequest]) -> list[Job]:
    """Accept several jobs all or nothing: errors of each are under `jobs.<index>`."""
    if not requests:
        raise ValidationFailed({"jobs": ["Give at least one job."]})
    if len(requests) > BATCH_MAX_JOBS:
        raise ValidationFailed({"jobs": [f"At most {BATCH_MAX_JOBS} jobs at once."]})
    cleaned: list[JobRequest] = []
    errors: dict[str, Any] = {}
    for index, request in enumerate(requests):
        try:
            cleaned.append(_request_clean(actor, request))
        except ValidationFailed as error:
            errors[str(index)] = error.details
    if errors:
        raise ValidationFailed({"jobs": errors})
    with transaction.atomic():
        return [_job_insert(actor, request, notify=True) for request in cleaned]


def jobs_validate(*, actor: User, requests: Mapping[int, JobRequest]) -> dict[str, Any]:
    """The errors of each request by its index, creating nothing: a batch whose other items
    are already refused still reports every mistake in one answer."""
    errors: dict[str, Any] = {}
    for index, request in requests.items():
        try:
            _request_clean(actor, request)
        except ValidationFailed as error:
            errors[str(index)] = error.details
    return errors


def _request_clean(actor: User, request: JobRequest) -> JobRequest:
    kind = kind_get(request.kind)
    errors: dict[str, list[str]] = {}
    if kind is None or not kind.requestable:
        known = ", ".join(requestable_kinds())
        errors["kind"] = [f"Unknown job kind; one of: {known}."]
    if request.priority not in QUEUE_BY_PRIORITY:
        errors["priority"] = ["One of: high, normal, low."]
    if not isinstance(request.params, dict):
        errors["params"] = ["A JSON object."]
    if errors or kind is None or not kind.requestable:
        raise ValidationFailed(errors)
    try:
        params = kind.clean(request.params, actor)
    except ValidationFailed as error:
        raise ValidationFailed({"params": error.details}) from error
    return JobRequest(kind=kind.name, params=params, priority=request.priority)


def dedupe_key(kind: str, params: dict[str, Any]) -> str:
    canonical = json.dumps([kind, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _job_insert(actor: User, request: JobRequest, *, notify: bool) -> Job:
    kind = kinds()[request.kind]
    key = dedupe_key(kind.name, request.params)
    existing = _duplicate_of(actor.pk, key)
    if existing is not None:
        return existing
    job = Job(
        owner=actor,
        kind=kind.name,
        params=request.params,
        priority=request.priority,
        max_attempts=kind.max_attempts(),
        dedupe_key=key,
        notify=notify,
        request_id=current_request_id() or "",
        run_after=timezone.now(),
    )
    try:
        with transaction.atomic():
            job.save(force_insert=True)
    except IntegrityError:
        # An identical request committed first (tasks_job_one_active_per_request).
        existing = _duplicate_of(actor.pk, key)
        if existing is None:
            raise
        return existing
    transaction.on_commit(lambda: _release_quietly(owner_id=job.owner_id, kind=job.kind))
    logger.info("job queued", extra={"job_id": str(job.pk), "kind": job.kind})
    return job


def _duplicate_of(owner_id: Any, key: str) -> Job | None:
    window_start = timezone.now() - timedelta(seconds=settings.JOB_DEDUPE_SECONDS)
    same = Job.objects.filter(owner_id=owner_id, dedupe_key=key)
    return (
        same.filter(
            Q(status__in=(JobStatus.QUEUED, JobStatus.RUNNING))
            | Q(status=JobStatus.SUCCEEDED, finished_at__gte=window_start)
        )
        .order_by("-created_at")
        .first()
    )


# --- cancel and requeue -----------------------------------------------------------------------


def job_cancel(*, actor: User, job_id: uuid.UUID | str) -> Job:
    """Cancel a job: a queued one never starts, a running one stops at its next step (its
    status turns `cancelled` then). Cancelling a cancelled job is a no-op; an ended one, 409."""
    job = _visible_job(actor, job_id)
    now = timezone.now()
    with transaction.atomic():
        if Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.CANCELLED,
            cancel_requested=True,
            finished_at=now,
            dispatched_at=None,
        ):
            job.refresh_from_db()
            _ended(job)
            return job
        Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(cancel_requested=True)
    job.refresh_from_db()
    if job.status in (JobStatus.RUNNING, JobStatus.CANCELLED):
        return job
    raise JobStateConflict(f"The job already ended ({job.status}).")


def job_requeue(*, actor: User | None, job_id: uuid.UUID | str) -> Job:
    """Run an ended job (dead, failed or cancelled) again from scratch: an admin (the API, the
    admin's action), or the operator at the shell (`manage.py jobs requeue`, actor None)."""
    job = _visible_job(actor, job_id)
    requeueable = (JobStatus.DEAD, JobStatus.FAILED, JobStatus.CANCELLED)
    try:
        with transaction.atomic():
            requeued = Job.objects.filter(pk=job.pk, status__in=requeueable).update(
                status=JobStatus.QUEUED,
                attempts=0,
                progress=0,
                result=None,
                error="",
                cancel_requested=False,
                run_after=timezone.now(),
                dispatched_at=None,
                started_at=None,
                finished_at=None,
            )
            if not requeued:
                raise JobStateConflict(f"Only ended jobs are requeued; this one is {job.status}.")
            audit_record_write(
                action="job.requeued",
                target_type=TARGET,
                target_id=job.pk,
                actor=actor,
                changes={"status": [job.status, JobStatus.QUEUED]},
            )
            transaction.on_commit(lambda: _release_quietly(owner_id=job.owner_id, kind=job.kind))
    except IntegrityError as error:
        raise JobStateConflict("An identical job is already queued or running.") from error
    job.refresh_from_db()
    _broadcast_quietly(f"job:{job.pk}", "job.progress", job_progress_data(job))
    return job


def _visible_job(actor: User | None, job_id: uuid.UUID | str) -> Job:
    from tasks.selectors import job_find, job_get

    job = job_find(job_id=job_id) if actor is None else job_get(actor=actor, job_id=job_id)
    if job is None:
        raise JobNotFound()
    return job


# --- running: claim, progress, lease, end -----------------------------------------------------


def job_claim(*, job_id: uuid.UUID | str, worker: str) -> Job | None:
    """Start a queued job (one attempt counted), or None when it is not this message's to run:
    already running or ended, cancelled, not due yet, or over its owner's or kind's cap (then
    it is parked and leaves when a slot frees)."""
    job = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).first()
    if job is None:
        return None
    now = timezone.now()
    if job.run_after > now:
        _park(job.pk)
        return None
    cap = kind_concurrency(job.kind)
    uncapped = owner_uncapped_kinds()
    owner_capped = job.kind not in uncapped
    locks = ([f"owner:{job.owner_id}"] if owner_capped else []) + (
        [f"kind:{job.kind}"] if cap is not None else []
    )
    with _serialised_transaction(locks):
        running = Job.objects.filter(status=JobStatus.RUNNING)
        owners_running = running.filter(owner_id=job.owner_id).exclude(kind__in=uncapped)
        if (owner_capped and owners_running.count() >= settings.JOB_USER_CONCURRENCY) or (
            cap is not None and running.filter(kind=job.kind).count() >= cap
        ):
            _park(job.pk)
            return None
        # The attempt read above, so the row in hand is the row claimed without reading it again.
        changes = {
            "status": JobStatus.RUNNING,
            "attempts": job.attempts + 1,
            "progress": 0,
            "started_at": now,
            "lease_expires_at": now + timedelta(seconds=settings.JOB_LEASE_SECONDS),
            "worker": worker[:255],
        }
        claimed = Job.objects.filter(
            pk=job.pk, status=JobStatus.QUEUED, attempts=job.attempts
        ).update(**changes)
    if not claimed:
        return None
    for field, value in changes.items():
        setattr(job, field, value)
    _broadcast_quietly(f"job:{job.pk}", "job.progress", job_progress_data(job))
    return job


def job_lease_extend(*, job: Job) -> None:
    """Keep the running attempt's lease; raises JobLost when it is no longer this attempt's."""
    lease = timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)
    if not _mine(job).update(lease_expires_at=lease):
        raise JobLost()


def job_progress_report(*, job: Job, progress: int) -> None:
    """Record progress (0 to 100) and extend the lease; raises JobCancelled when the owner asked
    to stop, JobLost when the attempt lost its lease."""
    progress = max(0, min(100, int(progress)))
    lease = timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)
    if (
        not _mine(job)
        .filter(cancel_requested=False)
        .update(progress=progress, lease_expires_at=lease)
    ):
        _raise_stop(job)
    job.progress = progress
    _broadcast_quietly(f"job:{job.pk}", "job.progress", job_progress_data(job))


def job_check_cancelled(*, job: Job) -> None:
    """Raise JobCancelled (or JobLost) if the attempt must stop; a cheap read between steps."""
    if not _mine(job).filter(cancel_requested=False).exists():
        _raise_stop(job)


def job_output(*, job: Job, chunk: str) -> None:
    """Stream a piece of the job's text to its room as a `job.output` event."""
    _broadcast_quietly(f"job:{job.pk}", "job.output", {"id": str(job.pk), "chunk": chunk})


def job_succeed(*, job: Job, result: dict[str, Any] | None, result_file: str = "") -> bool:
    """End the attempt `succeeded`. False (and the file deleted) when the attempt had lost the
    job meanwhile: another attempt owns the row now."""
    now = timezone.now()
    expires = now + timedelta(seconds=settings.JOB_RESULT_TTL) if result_file else None
    changes = {
        "status": JobStatus.SUCCEEDED,
        "progress": 100,
        "result": result,
        "result_file": result_file,
        "result_expires_at": expires,
        "error": "",
        "finished_at": now,
        "lease_expires_at": None,
    }
    with transaction.atomic():
        if not _mine(job).update(**changes):
            transaction.on_commit(lambda: result_delete(result_file))
            return False
        for field, value in changes.items():
            setattr(job, field, value)
        _ended(job)
    logger.info("job succeeded", extra={"job_id": str(job.pk), "kind": job.kind})
    return True


def job_cancelled(*, job: Job) -> bool:
    """End an attempt that stopped because its owner cancelled it."""
    with transaction.atomic():
        if not _mine(job).update(
            status=JobStatus.CANCELLED, finished_at=timezone.now(), lease_expires_at=None
        ):
            return False
        job.refresh_from_db()
        _ended(job)
    return True


def job_fail(*, job: Job, error: str, retryable: bool = True) -> str | None:
    """End a failed attempt: back to the queue after a backoff while attempts remain, else
    `dead` (or `failed` when retrying cannot help). Returns the new status, or None when the
    attempt had lost the job."""
    error = error[:JOB_ERROR_MAX_LENGTH]
    now = timezone.now()
    if retryable and job.attempts < job.max_attempts:
        delay = retry_delay(kind_get(job.kind), job.attempts)
        if not _mine(job).update(
            status=JobStatus.QUEUED,
            error=error,
            run_after=now + timedelta(seconds=delay),
            dispatched_at=None,
            lease_expires_at=None,
            worker="",
        ):
            return None
        job.refresh_from_db()
        logger.warning(
            "job failed, retrying",
            extra={"job_id": str(job.pk), "attempt": job.attempts, "retry_in": round(delay, 1)},
        )
        _broadcast_quietly(f"job:{job.pk}", "job.progress", job_progress_data(job))
        # Its slot is free now: the owner's next job may start while this one waits.
        transaction.on_commit(lambda: _release_quietly(owner_id=job.owner_id, kind=job.kind))
        return JobStatus.QUEUED
    status = JobStatus.DEAD if retryable else JobStatus.FAILED
    with transaction.atomic():
        if not _mine(job).update(
            status=status, error=error, finished_at=now, lease_expires_at=None
        ):
            return None
        job.refresh_from_db()
        _ended(job)
    logger.error("job %s", status, extra={"job_id": str(job.pk), "kind": job.kind, "error": error})
    return status


def retry_delay(kind: JobKind | None, attempts: int) -> float:
    """Exponential backoff with full jitter: up to base * 2^(attempts-1), at most an hour; or,
    for a kind with a retry schedule, its delay for this attempt within ±20 %."""
    if kind is not None and kind.retry_schedule is not None:
        schedule = list(kind.retry_schedule())
        delay = schedule[min(max(0, attempts - 1), len(schedule) - 1)] if schedule else 0.0
        return random.uniform(delay * 0.8, delay * 1.2)  # noqa: S311 - jitter, not a secret  # nosec B311
    base = kind.retry_base_seconds if kind else 5.0
    ceiling = min(RETRY_MAX_SECONDS, base * 2 ** max(0, attempts - 1))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret  # nosec B311


def _mine(job: Job) -> Any:
    """The row, only while it is this attempt's: running, with this attempt's number."""
    return Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts)


def _raise_stop(job: Job) -> None:
    if _mine(job).filter(cancel_requested=True).exists():
        raise JobCancelled()
    raise JobLost()


def _ended(job: Job) -> None:
    """Inside the ending transaction: tell the owner, announce it, free its slot (on commit)."""
    if job.notify:
        notification_create(
            recipient_id=job.owner_id,
            kind=NotificationKind.JOB_FINISHED,
            data={"job": {"id": str(job.pk), "kind": job.kind, "status": job.status}},
        )
    representation = job_representation(job)
    transaction.on_commit(
        lambda: _broadcast_quietly(f"job:{job.pk}", "job.finished", representation)
    )
    transaction.on_commit(lambda: _release_quietly(owner_id=job.owner_id, kind=job.kind))


# --- dispatch and the sweep -------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    revived: int
    redispatched: int
    released: int


def jobs_sweep() -> SweepReport:
    """The periodic safety net (JOB_SWEEP_SECONDS): give back running jobs whose lease went
    stale (their worker died), re-send queued ones whose message the broker lost, and send
    parked ones whose turn has come."""
    now = timezone.now()
    revived = 0
    stale = Job.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now)
    for job in stale.order_by("lease_expires_at")[:RELEASE_BATCH]:
        if job_fail(job=job, error="The worker running this job stopped.") is not None:
            revived += 1
    lost_before = now - timedelta(seconds=settings.JOB_REDISPATCH_SECONDS)
    redispatched = Job.objects.filter(
        status=JobStatus.QUEUED, dispatched_at__lt=lost_before
    ).update(dispatched_at=None)
    released = jobs_release()
    if revived or redispatched:
        logger.warning("job sweep", extra={"revived": revived, "redispatched": redispatched})
    return SweepReport(revived=revived, redispatched=redispatched, released=released)


def jobs_broker_lost(*, sent_before: datetime) -> int:
    """The broker lost every message sent before `sent_before`: the memory broker of an
    embedded process that stopped (a restart, a crash). Queued rows marked as sent before then
    are unmarked and sent again at once, instead of after JOB_REDISPATCH_SECONDS; running ones
    are left to their lease. Returns how many were unmarked."""
    lost = Job.objects.filter(
        status=JobStatus.QUEUED, dispatched_at__isnull=False, dispatched_at__lt=sent_before
    ).update(dispatched_at=None)
    if lost:
        logger.warning("jobs sent to a lost broker are sent again", extra={"jobs": lost})
    jobs_release()
    return lost


def jobs_release(*, owner_id: Any = None, kind: str | None = None) -> int:
    """Send parked jobs whose turn has come (within their owner's and kind's caps), most
    urgent and oldest first; returns how many were sent."""
    now = timezone.now()
    waiting = Job.objects.filter(
        status=JobStatus.QUEUED, dispatched_at__isnull=True, run_after__lte=now
    )
    if owner_id is not None:
        waiting = waiting.filter(owner_id=owner_id)
    if kind is not None:
        waiting = waiting.filter(kind=kind)
    rank = _priority_rank()
    uncapped = owner_uncapped_kinds()
    # At most as many per owner as may run at once: one user's backlog never hides the others.
    # Jobs of kinds outside the owner's cap are each a partition of their own.
    partition = [
        F("owner_id"),
        Case(When(kind__in=uncapped, then=F("id")), default=Value(None), output_field=UUIDField()),
    ]
    candidates = list(
        waiting.annotate(
            rank=rank,
            place=Window(RowNumber(), partition_by=partition, order_by=[rank.asc(), "created_at"]),
        )
        .filter(place__lte=settings.JOB_USER_CONCURRENCY)
        .order_by("rank", "created_at")
        .values("id", "owner_id", "kind", "priority")[:RELEASE_BATCH]
    )
    if not candidates:
        return 0
    owners = _in_flight("owner_id", {c["owner_id"] for c in candidates}, excluded_kinds=uncapped)
    caps = {c["kind"]: kind_concurrency(c["kind"]) for c in candidates}
    by_kind = _in_flight("kind", {name for name, cap in caps.items() if cap is not None})
    chosen = []
    for candidate in candidates:
        cap = caps[candidate["kind"]]
        owner_capped = candidate["kind"] not in uncapped
        if owner_capped and owners[candidate["owner_id"]] >= settings.JOB_USER_CONCURRENCY:
            continue
        if cap is not None and by_kind[candidate["kind"]] >= cap:
            continue
        if owner_capped:
            owners[candidate["owner_id"]] += 1
        by_kind[candidate["kind"]] += 1
        chosen.append(candidate)
    return _dispatch(chosen)


def _in_flight(
    field: str, values: Iterable[Any], *, excluded_kinds: Sequence[str] = ()
) -> Counter[Any]:
    values = list(values)
    if not values:
        return Counter()
    flying = Job.objects.filter(
        Q(status=JobStatus.RUNNING) | Q(status=JobStatus.QUEUED, dispatched_at__isnull=False),
        **{f"{field}__in": values},
    ).exclude(kind__in=excluded_kinds)
    counts = flying.values(field).annotate(n=Count("id")).values_list(field, "n")
    return Counter(dict(counts))


def _priority_rank() -> Case:
    return Case(
        *(When(priority=p, then=Value(i)) for i, p in enumerate(PRIORITY_ORDER)),
        output_field=IntegerField(),
    )


def _dispatch(jobs: Sequence[dict[str, Any]]) -> int:
    """Send each job's message to the queue of its priority. The rows are marked first, in one
    transaction (rows another release marked or locked meanwhile are skipped), so a worker that
    parks a job again never has its mark overwritten; then the messages go out on one producer.
    A failed send unmarks the jobs not sent and rests the broker for BROKER_REST_SECONDS (the
    sweep sends them later)."""
    global _broker_resting_until
    if not jobs or time.monotonic() < _broker_resting_until:
        return 0
    now = timezone.now()
    if len(jobs) == 1:
        marked = {jobs[0]["id"]} if _mark(jobs[0]["id"], now) else set()
    else:
        marked = _mark_many([job["id"] for job in jobs], now)
    pending = [job for job in jobs if job["id"] in marked]
    sent = 0
    try:
        with current_app.producer_or_acquire() as producer:
            for job in pending:
                current_app.send_task(
                    RUN_JOB_TASK,
                    args=[str(job["id"])],
                    queue=QUEUE_BY_PRIORITY[job["priority"]],
                    retry=False,
                    producer=producer,
                )
                sent += 1
    except (BrokerError, OSError) as exc:
        unsent = [job["id"] for job in pending[sent:]]
        Job.objects.filter(pk__in=unsent, dispatched_at=now).update(dispatched_at=None)
        _broker_resting_until = time.monotonic() + BROKER_REST_SECONDS
        logger.warning("broker refused a job; the sweep sends it later: %r", exc)
    return sent


def _mark(job_id: Any, now: datetime) -> bool:
    return bool(
        Job.objects.filter(pk=job_id, status=JobStatus.QUEUED, dispatched_at__isnull=True).update(
            dispatched_at=now
        )
    )


def _mark_many(job_ids: list[Any], now: datetime) -> set[Any]:
    """Mark many rows in one transaction (one commit, not one per row); rows another release
    holds are skipped."""
    with transaction.atomic():
        marked = set(
            Job.objects.select_for_update(skip_locked=True)
            .filter(pk__in=job_ids, status=JobStatus.QUEUED, dispatched_at__isnull=True)
            .values_list("pk", flat=True)
        )
        Job.objects.filter(pk__in=marked).update(dispatched_at=now)
    return marked


def _park(job_id: Any) -> None:
    Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(dispatched_at=None)


def _release_quietly(*, owner_id: Any, kind: str) -> None:
    """After a commit: a failure here only delays the job until the sweep."""
    try:
        jobs_release(owner_id=owner_id)
        if kind_concurrency(kind) is not None:
            jobs_release(kind=kind)
    except Exception:
        logger.exception("could not release parked jobs; the sweep will")


def _broadcast_quietly(room: str, event: str, data: dict[str, Any]) -> None:
    try:
        broadcast(room, event, data)
    except Exception:
        logger.exception("could not publish %s to %s", event, room)


@contextmanager
def _serialised_transaction(names: Sequence[str]) -> Iterator[None]:
    """A transaction that holds a lock per name, so cap checks and claims do not race: advisory
    locks on PostgreSQL (across every worker), a process lock elsewhere (embedded mode runs in
    one process)."""
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            for name in sorted(names):
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(name)])
            yield
    else:
        with _local_lock, transaction.atomic():
            yield


def _lock_id(name: str) -> int:
    digest = hashlib.sha256(f"agora.jobs.{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def job_results_purge() -> int:
    """Delete result files older than JOB_RESULT_TTL (beat, hourly). Their jobs stay; asking
    for the result then answers 410."""
    expired = Job.objects.filter(result_expires_at__lt=timezone.now()).exclude(result_file="")
    purged = 0
    for job in expired.only("id", "result_file")[: RELEASE_BATCH * 10]:
        if Job.objects.filter(pk=job.pk, result_file=job.result_file).update(result_file=""):
            result_delete(job.result_file)
            purged += 1
    return purged
