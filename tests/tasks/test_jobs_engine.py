"""The job engine's state machine, driven step by step through its services and its runner
(the real database; the broker is the configured one). Worker-level behaviour (a real worker,
kill -9, a broker outage) is in test_jobs_worker.py and test_jobs_faults.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from realtime.models import Notification
from tasks.exceptions import JobStateConflict
from tasks.models import Job, JobStatus
from tasks.runner import job_run
from tasks.services import job_cancel, job_create, job_requeue, jobs_release, jobs_sweep
from tasks.services.jobs import job_claim, job_progress_report, job_succeed, retry_delay
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db

WORKER = "test-worker"


def run(job: Job) -> str | None:
    return job_run(job_id=str(job.pk), worker=WORKER)


def created(kind: str = "noop", actor: Any = None, **params: Any) -> Job:
    return job_create(actor=actor or UserFactory(), kind=kind, params=params)


def due_now(job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(run_after=timezone.now())


def test_a_new_job_is_queued_and_sent_once_its_transaction_commits(
    django_capture_on_commit_callbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        job = created()
        assert Job.objects.get(pk=job.pk).dispatched_at is None
    job.refresh_from_db()
    assert (job.status, job.attempts, job.dispatched_at is not None) == ("queued", 0, True)


def test_a_run_records_success_result_and_a_notification_for_the_owner() -> None:
    job = created()

    assert run(job) == "succeeded"

    job.refresh_from_db()
    assert (job.status, job.progress, job.attempts, job.result) == (
        JobStatus.SUCCEEDED,
        100,
        1,
        {"ok": True},
    )
    assert job.started_at <= job.finished_at
    notification = Notification.objects.get(recipient=job.owner)
    assert notification.data == {"job": {"id": str(job.pk), "kind": "noop", "status": "succeeded"}}


def test_a_second_claim_of_a_running_job_gets_nothing() -> None:
    job = created()
    assert job_claim(job_id=job.pk, worker="a") is not None
    assert job_claim(job_id=job.pk, worker="b") is None
    assert Job.objects.get(pk=job.pk).attempts == 1


def test_a_failed_attempt_goes_back_to_the_queue_after_a_backoff_then_succeeds() -> None:
    job = created("flaky", failures=1)

    assert run(job) == "queued"
    job.refresh_from_db()
    assert job.error == "RuntimeError: attempt 1 fails on purpose"
    assert job.run_after > timezone.now()
    assert job.dispatched_at is None
    assert run(job) is None  # not due yet: the message is parked, nothing runs

    due_now(job)
    assert run(job) == "succeeded"
    job.refresh_from_db()
    assert (job.attempts, job.result, job.error) == (2, {"attempts": 2}, "")


def test_a_job_that_always_fails_ends_dead_after_its_retries_and_requeue_runs_it_again() -> None:
    job = created("broken")
    outcomes = []
    for _ in range(3):
        due_now(job)
        outcomes.append(run(job))

    assert outcomes == ["queued", "queued", "dead"]
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == (
        "dead",
        3,
        "RuntimeError: this job always fails",
    )

    requeued = job_requeue(actor=AdminFactory(), job_id=job.pk)
    assert (requeued.status, requeued.attempts, requeued.error) == ("queued", 0, "")
    assert run(job) == "queued"


def test_a_failure_retrying_cannot_fix_ends_failed_at_once() -> None:
    job = created("refused")
    assert run(job) == "failed"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == ("failed", 1, "nothing to retry here")


def test_retry_delays_grow_exponentially_with_jitter() -> None:
    from tasks.kinds import kind_get

    kind = kind_get("thumbnail")
    delays = [retry_delay(kind, attempt) for attempt in (1, 2, 3)]
    assert [2.5 <= delays[0] <= 5, 5 <= delays[1] <= 10, 10 <= delays[2] <= 20] == [True] * 3


def test_a_queued_job_cancelled_never_starts() -> None:
    job = created()
    cancelled = job_cancel(actor=job.owner, job_id=job.pk)
    assert cancelled.status == "cancelled"
    assert run(job) is None
    assert Job.objects.get(pk=job.pk).attempts == 0


def test_a_running_job_cancelled_stops_at_its_next_step() -> None:
    job = created("steps", steps=3, seconds=0)
    claimed = job_claim(job_id=job.pk, worker=WORKER)
    assert job_cancel(actor=job.owner, job_id=job.pk).status == "running"

    from tasks.exceptions import JobCancelled

    with pytest.raises(JobCancelled):
        job_progress_report(job=claimed, progress=50)


def test_cancelling_an_ended_job_is_a_conflict() -> None:
    job = created()
    run(job)
    with pytest.raises(JobStateConflict):
        job_cancel(actor=job.owner, job_id=job.pk)


def test_requeueing_a_job_still_queued_is_a_conflict() -> None:
    job = created()
    with pytest.raises(JobStateConflict):
        job_requeue(actor=AdminFactory(), job_id=job.pk)


def test_an_identical_request_answers_the_same_job_while_queued_or_recently_succeeded() -> None:
    owner = UserFactory()
    first = created("steps", actor=owner, steps=1, seconds=0)
    assert created("steps", actor=owner, steps=1, seconds=0).pk == first.pk
    assert created("steps", actor=owner, steps=2, seconds=0).pk != first.pk
    assert created("steps", actor=UserFactory(), steps=1, seconds=0).pk != first.pk

    run(first)
    assert created("steps", actor=owner, steps=1, seconds=0).pk == first.pk
    Job.objects.filter(pk=first.pk).update(finished_at=timezone.now() - timedelta(minutes=11))
    assert created("steps", actor=owner, steps=1, seconds=0).pk != first.pk


def test_a_users_jobs_beyond_the_concurrency_cap_wait_and_leave_when_a_slot_frees(
    settings, django_capture_on_commit_callbacks
) -> None:
    settings.JOB_USER_CONCURRENCY = 2
    owner = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        jobs = [created("steps", actor=owner, steps=1, seconds=0, tag=str(i)) for i in range(3)]
    sent = [Job.objects.get(pk=job.pk).dispatched_at is not None for job in jobs]
    assert sent == [True, True, False]

    first = job_claim(job_id=jobs[0].pk, worker=WORKER)
    assert job_claim(job_id=jobs[1].pk, worker=WORKER) is not None
    with django_capture_on_commit_callbacks(execute=True):
        job_succeed(job=first, result=None)
    assert Job.objects.get(pk=jobs[2].pk).dispatched_at is not None


def test_a_claim_over_the_users_cap_parks_the_job(settings) -> None:
    settings.JOB_USER_CONCURRENCY = 1
    owner = UserFactory()
    first = created(actor=owner, tag="1")
    second = created(actor=owner, tag="2")
    assert job_claim(job_id=first.pk, worker=WORKER) is not None
    Job.objects.filter(pk=second.pk).update(dispatched_at=timezone.now())

    assert job_claim(job_id=second.pk, worker=WORKER) is None
    second.refresh_from_db()
    assert (second.status, second.dispatched_at) == ("queued", None)


def test_parked_jobs_leave_most_urgent_first() -> None:
    owner = UserFactory()
    low = job_create(actor=owner, kind="noop", params={"tag": "low"}, priority="low")
    high = job_create(actor=owner, kind="noop", params={"tag": "high"}, priority="high")
    Job.objects.update(dispatched_at=None)

    from django.test import override_settings

    with override_settings(JOB_USER_CONCURRENCY=1):
        assert jobs_release() == 1
    assert Job.objects.get(pk=high.pk).dispatched_at is not None
    assert Job.objects.get(pk=low.pk).dispatched_at is None


def test_the_sweep_gives_back_a_job_whose_lease_went_stale_and_fences_the_old_attempt() -> None:
    job = created()
    lost = job_claim(job_id=job.pk, worker="dead-worker")
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    report = jobs_sweep()

    assert report.revived == 1
    job.refresh_from_db()
    assert (job.status, job.error) == ("queued", "The worker running this job stopped.")
    due_now(job)
    assert run(job) == "succeeded"
    assert job_succeed(job=lost, result={"late": True}) is False
    assert Job.objects.get(pk=job.pk).result == {"ok": True}


def test_the_sweep_sends_again_a_job_whose_message_the_broker_lost(settings) -> None:
    job = created()
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_REDISPATCH_SECONDS + 1)
    Job.objects.filter(pk=job.pk).update(dispatched_at=long_ago)

    report = jobs_sweep()

    assert (report.redispatched, report.released) == (1, 1)
    assert Job.objects.get(pk=job.pk).dispatched_at > long_ago
