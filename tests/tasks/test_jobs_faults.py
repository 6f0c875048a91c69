"""Faults against real processes: a Celery prefork worker killed with `kill -9`, Redis stopped
while jobs are posted, a job that always fails, a high job behind 10,000 low ones, and an
embedded server killed with jobs in its memory broker (docs/jobs.md, issue 10 "Prove it").

Every test runs real processes (tests.tasks.processes) on live rows (`transactional_db`); the
assertions are about outcomes and order, never about time. The first four need PostgreSQL and
Redis (prefork workers share rows across processes); the embedded one runs in both modes.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from audits.models import AuditRecord
from config.celery import app
from tasks.models import Job, JobPriority, JobStatus
from tasks.services import job_create, jobs_release
from tasks.services.jobs import dedupe_key
from tests.factories import AdminFactory, UserFactory, bearer
from tests.live import LiveServer, http_request
from tests.tasks.jobs_http import DEAD_LETTERS_URL, URL, client_for, job_url, wait_for
from tests.tasks.kinds import tally_path
from tests.tasks.processes import CeleryBeat, CeleryWorker, RedisServer, kill_tree, wait_until

# Long enough for a worker or a server to start on two busy cores, and the job to run.
WAIT_SECONDS = 60


def tallies() -> Counter[str]:
    """How many times each job's effect was applied (tests.tasks.kinds.TALLY)."""
    path = tally_path("tally")
    return Counter(path.read_text().split()) if path.exists() else Counter()


def ended(job_ids: list[Any], *, sweep: bool = False) -> dict[str, Job]:
    return {str(job_id): wait_for(job_id, timeout=WAIT_SECONDS, sweep=sweep) for job_id in job_ids}


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    """One MEDIA_ROOT (where tallies are written) for this process and the ones it starts."""
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


@pytest.fixture
def private_redis() -> Any:
    if not RedisServer.available():
        pytest.skip("needs redis-server on the PATH")
    redis = RedisServer()
    redis.start()
    yield redis
    redis.stop()


@pytest.mark.usefixtures("transactional_db")
@pytest.mark.postgres
@pytest.mark.redis
def test_kill_9_of_the_worker_while_jobs_run_loses_none_and_applies_each_once(
    settings: Any, media_root: Path
) -> None:
    # The sweep runs here: a message the killed worker had taken but not started is sent again.
    settings.JOB_REDISPATCH_SECONDS = 5
    env = {"MEDIA_ROOT": str(media_root), "JOB_LEASE_SECONDS": "2"}
    doomed = CeleryWorker(concurrency=2, name="doomed", **env)
    doomed.start()
    try:
        jobs = [
            job_create(actor=UserFactory(), kind="tally", params={"seconds": 1.5}) for _ in range(6)
        ]
        running = Job.objects.filter(status=JobStatus.RUNNING)
        wait_until(lambda: running.count() == 2, timeout=WAIT_SECONDS, what="two jobs running")
        doomed.kill()
    finally:
        doomed.stop()
    killed = {str(pk) for pk in running.values_list("pk", flat=True)}

    with CeleryWorker(concurrency=2, name="heir", **env):
        outcome = ended([job.pk for job in jobs], sweep=True)

    assert len(killed) == 2
    assert {job.status for job in outcome.values()} == {JobStatus.SUCCEEDED}
    assert tallies() == Counter(dict.fromkeys(outcome, 1))
    assert {pk: job.attempts for pk, job in outcome.items()} == {
        pk: 2 if pk in killed else 1 for pk in outcome
    }
    assert not Job.objects.filter(status=JobStatus.RUNNING).exists()


@pytest.mark.usefixtures("transactional_db")
@pytest.mark.postgres
@pytest.mark.redis
def test_jobs_posted_while_redis_is_down_are_accepted_and_run_once_it_is_back(
    media_root: Path, private_redis: RedisServer
) -> None:
    # As deployed: web, worker and beat (whose sweep sends parked jobs), all on this Redis.
    env = {"REDIS_URL": private_redis.url, "MEDIA_ROOT": str(media_root), "JOB_SWEEP_SECONDS": "1"}
    worker, beat, server = CeleryWorker(**env), CeleryBeat(**env), LiveServer("web", **env)
    headers = {"Authorization": bearer(UserFactory()), "Content-Type": "application/json"}

    def post(tag: str) -> tuple[int, dict[str, Any]]:
        body = json.dumps({"kind": "tally", "params": {"tag": tag}}).encode()
        status, _, answer = http_request("POST", server.base_url + URL, body=body, headers=headers)
        return status, json.loads(answer)

    worker.start()
    beat.start()
    try:
        server.start()
        status, first = post("before")
        assert status == 202, first
        assert wait_for(first["id"], timeout=WAIT_SECONDS).status == JobStatus.SUCCEEDED
        pids = (worker.process.pid, beat.process.pid, server.process.pid)

        private_redis.stop()
        answers = [post(f"during-{n}") for n in range(8)]
        parked = Job.objects.filter(pk__in=[body["id"] for _, body in answers])
        was_parked = all(job.dispatched_at is None for job in parked)
        private_redis.start()
        outcome = ended([body["id"] for _, body in answers])
        still_up = [process.poll() for process in (worker.process, beat.process, server.process)]
        same_pids = (worker.process.pid, beat.process.pid, server.process.pid) == pids
    finally:
        server.stop()
        beat.stop()
        worker.stop()

    assert [status for status, _ in answers] == [202] * 8
    assert was_parked
    assert {job.status for job in outcome.values()} == {JobStatus.SUCCEEDED}
    assert tallies() == Counter(dict.fromkeys([first["id"], *outcome], 1))
    assert (still_up, same_pids) == ([None, None, None], True)


@pytest.mark.usefixtures("transactional_db")
@pytest.mark.postgres
@pytest.mark.redis
def test_a_job_that_always_fails_ends_dead_and_requeue_runs_it_again_on_a_worker() -> None:
    admin = client_for(AdminFactory())
    with CeleryWorker():
        response = client_for(UserFactory()).post(URL, {"kind": "broken"}, format="json")
        job_id = response.json()["id"]
        dead = wait_for(job_id, timeout=WAIT_SECONDS, sweep=True)
        letters = [job["id"] for job in admin.get(DEAD_LETTERS_URL).json()["results"]]
        requeued = admin.post(job_url(job_id, "requeue"))
        dead_again = wait_for(
            job_id, lambda job: job.status == "dead", timeout=WAIT_SECONDS, sweep=True
        )

    assert (dead.status, dead.attempts, dead.error) == (
        JobStatus.DEAD,
        3,
        "RuntimeError: this job always fails",
    )
    assert letters == [job_id]
    assert (requeued.status_code, requeued.json()["attempts"]) == (202, 0)
    assert (dead_again.status, dead_again.attempts) == (JobStatus.DEAD, 3)
    assert dead_again.started_at > dead.started_at
    assert AuditRecord.objects.filter(action="job.requeued", target_id=str(job_id)).exists()


LOW_JOBS = 10_000


@pytest.mark.usefixtures("transactional_db")
@pytest.mark.postgres
@pytest.mark.redis
def test_a_high_job_starts_before_the_10000_low_ones_queued_ahead_of_it(settings: Any) -> None:
    # One owner's backlog, all of it on the broker: the per-user cap would keep it in the table.
    settings.JOB_USER_CONCURRENCY = LOW_JOBS * 2
    owner = UserFactory()
    now = timezone.now()
    Job.objects.bulk_create(
        (
            Job(
                owner=owner,
                kind="noop",
                params={"tag": str(n)},
                priority=JobPriority.LOW,
                dedupe_key=dedupe_key("noop", {"tag": str(n)}),
                run_after=now,
            )
            for n in range(LOW_JOBS)
        ),
        batch_size=2000,
    )
    sent = 0
    for _ in range(LOW_JOBS):
        released = jobs_release()
        sent += released
        if not released:
            break
    low = Job.objects.filter(priority=JobPriority.LOW)
    try:
        with CeleryWorker(JOB_USER_CONCURRENCY=str(LOW_JOBS * 2)):
            begun = low.exclude(started_at=None)
            wait_until(lambda: begun.count() >= 20, timeout=WAIT_SECONDS, what="consuming")
            high = job_create(actor=owner, kind="noop", priority=JobPriority.HIGH)
            low_begun_when_posted = begun.count()
            high = wait_for(high.pk, lambda job: job.started_at is not None, timeout=WAIT_SECONDS)
    finally:
        app.control.purge()

    ahead = low.filter(started_at__lt=high.started_at).count()
    assert sent == LOW_JOBS
    # At most the one low job the worker had in hand when the high one was posted.
    assert ahead - low_begun_when_posted <= 1
    assert low.exclude(started_at__lt=high.started_at).count() >= LOW_JOBS - 1000


@pytest.mark.usefixtures("transactional_db")
@pytest.mark.live_server
def test_an_embedded_server_killed_with_jobs_in_its_memory_broker_sends_them_again_at_start(
    media_root: Path,
) -> None:
    env = {
        "REDIS_URL": "",
        "EMBEDDED_WORKER": "true",
        "EMBEDDED_WORKER_CONCURRENCY": "1",
        "JOB_USER_CONCURRENCY": "10",
        "MEDIA_ROOT": str(media_root),
        "JOB_LEASE_SECONDS": "1.5",
        "JOB_SWEEP_SECONDS": "1",
        # Only the recovery at start, not the sweep's re-send of old messages, can run them.
        "JOB_REDISPATCH_SECONDS": "3600",
    }
    headers = {"Authorization": bearer(UserFactory()), "Content-Type": "application/json"}

    def post(server: LiveServer, params: dict[str, Any]) -> str:
        body = json.dumps({"kind": "tally", "params": params}).encode()
        status, _, answer = http_request("POST", server.base_url + URL, body=body, headers=headers)
        assert status == 202, answer
        return json.loads(answer)["id"]

    server = LiveServer(**env)
    server.start()
    try:
        blocker = post(server, {"seconds": 3})
        wait_until(
            lambda: Job.objects.get(pk=blocker).status == JobStatus.RUNNING,
            timeout=WAIT_SECONDS,
            what="the first job running",
        )
        waiting = [post(server, {"tag": str(n)}) for n in range(3)]
        kill_tree(server.process)
    finally:
        server.stop()
    left = {str(job.pk): (job.status, job.dispatched_at is not None) for job in Job.objects.all()}

    with LiveServer(**env):
        outcome = ended([blocker, *waiting])

    assert left == {
        blocker: (JobStatus.RUNNING, True),
        **dict.fromkeys(waiting, (JobStatus.QUEUED, True)),
    }
    assert {job.status for job in outcome.values()} == {JobStatus.SUCCEEDED}
    assert tallies() == Counter(dict.fromkeys(outcome, 1))
    assert {pk: job.attempts for pk, job in outcome.items()} == {
        pk: 2 if pk == blocker else 1 for pk in outcome
    }
