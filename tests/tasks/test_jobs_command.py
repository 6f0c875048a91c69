"""`manage.py jobs`: list, stats, requeue and sweep, through the engine's services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audits.models import AuditRecord
from tasks.models import Job
from tests.factories import UserFactory
from tests.tasks.job_rows import job_row

pytestmark = pytest.mark.django_db


@dataclass
class Output:
    out: str
    err: str


def jobs(*args: str) -> Output:
    out, err = StringIO(), StringIO()
    call_command("jobs", *args, stdout=out, stderr=err)
    return Output(out.getvalue(), err.getvalue())


def refused(*args: str) -> tuple[str, str]:
    """Runs a command that must fail; returns its stderr and the error it exits with."""
    err = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("jobs", *args, stdout=StringIO(), stderr=err)
    return err.getvalue(), str(failure.value)


def status_of(job: Job) -> str:
    return Job.objects.get(pk=job.pk).status


def test_requeue_by_id_runs_ended_jobs_again_and_audits_the_operator(
    django_capture_on_commit_callbacks: Any,
) -> None:
    dead, failed = job_row(status="dead", kind="broken"), job_row(status="failed")

    with django_capture_on_commit_callbacks(execute=True):
        output = jobs("requeue", str(dead.pk), str(failed.pk))

    assert output.out.splitlines() == [
        f"{dead.pk} (broken) requeued.",
        f"{failed.pk} (noop) requeued.",
    ]
    assert output.err == ""
    for job in (dead, failed):
        job.refresh_from_db()
        assert (job.status, job.attempts, job.dispatched_at is not None) == ("queued", 0, True)
    records = AuditRecord.objects.filter(action="job.requeued")
    assert [(r.target_id, r.actor_id) for r in records.order_by("id")] == [
        (str(dead.pk), None),
        (str(failed.pk), None),
    ]


def test_requeue_reports_unknown_and_active_jobs_on_stderr_and_fails_after_the_rest() -> None:
    dead, running = job_row(status="dead"), job_row(status="running")
    unknown = uuid.uuid4()

    err, error = refused("requeue", str(unknown), "not-an-id", str(running.pk), str(dead.pk))

    assert err.splitlines() == [
        f"{unknown}: No such job.",
        "not-an-id: No such job.",
        f"{running.pk}: Only ended jobs are requeued; this one is running.",
    ]
    assert error == "3 of 4 job(s) not requeued."
    assert (status_of(dead), status_of(running)) == ("queued", "running")


def test_requeue_all_dead_of_a_kind_leaves_other_kinds_and_statuses_alone() -> None:
    broken = [job_row(status="dead", kind="broken") for _ in range(3)]
    other_kind = job_row(status="dead", kind="flaky")
    failed = job_row(status="failed", kind="broken")

    output = jobs("requeue", "--all-dead", "--kind", "broken")

    assert output.out == "Requeued 3 dead job(s) of kind broken.\n"
    assert [status_of(job) for job in broken] == ["queued"] * 3
    assert (status_of(other_kind), status_of(failed)) == ("dead", "failed")


def test_requeue_all_dead_says_so_when_there_are_none() -> None:
    job_row(status="failed")

    assert jobs("requeue", "--all-dead").out == "No dead jobs.\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Give job ids, or --all-dead (not both)."),
        (("--all-dead", "0190c0de-0000-7000-8000-000000000000"), "Give job ids, or --all-dead"),
        (("--kind", "broken", "0190c0de-0000-7000-8000-000000000000"), "--kind goes with"),
    ],
)
def test_requeue_needs_ids_or_all_dead(args: tuple[str, ...], message: str) -> None:
    _, error = refused("requeue", *args)

    assert error.startswith(message)


def test_list_shows_jobs_of_a_status_and_kind_newest_first_with_their_owners() -> None:
    owner = UserFactory(username="siobhán_o'brien")
    older = job_row(status="dead", kind="broken", owner=owner)
    newer = job_row(status="dead", kind="broken", error="OSError: disk\nfull " + "x" * 80)
    job_row(status="dead", kind="flaky")
    job_row(status="queued", kind="broken")

    lines = jobs("list", "--status", "dead", "--kind", "broken").out.splitlines()

    assert lines[0].split() == [
        "ID", "KIND", "STATUS", "PRIORITY", "OWNER", "TRIES", "CREATED", "ERROR",
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == [str(newer.pk), str(older.pk)]
    assert lines[1].split()[1:6] == ["broken", "dead", "normal", newer.owner.username, "4/4"]
    assert "OSError: disk full xxx" in lines[1]
    assert lines[1].endswith("…")
    assert "siobhán_o'brien" in lines[2]


def test_list_says_when_more_jobs_than_the_limit_match() -> None:
    for _ in range(3):
        job_row()

    lines = jobs("list", "--limit", "2").out.splitlines()

    assert len(lines) == 4
    assert lines[-1] == "(more than 2; narrow with --status/--kind or --limit)"


def test_list_refuses_an_unknown_status() -> None:
    _, error = refused("list", "--status", "stuck")

    assert "invalid choice: 'stuck'" in error


def test_stats_counts_jobs_by_status_and_kind_and_the_oldest_waiting_job() -> None:
    job_row(kind="noop", run_after=timezone.now() - timedelta(minutes=3, seconds=5))
    job_row(kind="noop", run_after=timezone.now() + timedelta(minutes=5))  # backing off
    job_row(status="dead", kind="broken")
    job_row(status="dead", kind="broken")
    job_row(status="running", kind="steps", lease_expires_at=timezone.now() - timedelta(seconds=1))

    lines = jobs("stats").out.splitlines()

    table = [line.split() for line in lines[:4]]
    assert table == [
        ["KIND", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "DEAD", "TOTAL"],
        ["broken", "0", "0", "0", "0", "0", "2", "2"],
        ["noop", "2", "0", "0", "0", "0", "0", "2"],
        ["steps", "0", "1", "0", "0", "0", "0", "1"],
    ]
    assert lines[4].split() == ["(all)", "2", "1", "0", "0", "0", "2", "5"]
    assert lines[6].startswith("Oldest queued job: due 3 min 5 s ago (")
    assert lines[7:] == [
        "Parked (queued, not on the broker): 2.",
        "Stale leases (their worker died; the sweep revives them): 1.",
    ]


def test_stats_on_an_empty_table() -> None:
    assert jobs("stats").out == "No jobs.\n"


def test_sweep_revives_a_job_whose_worker_died_and_sends_waiting_ones(
    django_capture_on_commit_callbacks: Any,
) -> None:
    orphan = job_row(
        status="running", attempts=1, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    waiting = job_row()

    with django_capture_on_commit_callbacks(execute=True):
        output = jobs("sweep")

    assert output.out == (
        "Revived 1 job(s) whose worker died, re-sent 0 the broker lost, "
        "sent 1 waiting job(s) to the broker.\n"
    )
    orphan.refresh_from_db()
    waiting.refresh_from_db()
    assert (orphan.status, orphan.error) == ("queued", "The worker running this job stopped.")
    assert waiting.dispatched_at is not None
