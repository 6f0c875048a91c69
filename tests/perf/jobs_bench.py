"""The job engine with real prefork workers: no-op throughput and enqueue-to-start latency.

    DATABASE_URL=postgres://…/bench REDIS_URL=redis://…/N \
        .venv/bin/python -m tests.perf.jobs_bench [--jobs 20000] [--latency-jobs 200] \
        [--accept-jobs 1000] [--workers 1] [--concurrency 2]

Needs a PostgreSQL database and a Redis database of its own (it migrates the one, purges the
job queues of the other). Workers are `celery -A config worker --pool=prefork` processes, as
the Procfile starts them (tests.tasks.processes.CeleryWorker), with the test settings' `noop`
kind (tests/tasks/kinds.py). Three figures:

1. latency at idle: with the workers idle, one job at a time is accepted through the service
   (`job_create`, as `POST jobs` does); enqueue is the moment its transaction commits, start is
   the job's `started_at` (set when a worker claims it). p50, p95 and max over `--latency-jobs`.
2. accept rate: `job_create` in a loop, each in its own transaction and dispatched on commit
   (one client thread), while the workers run the jobs.
3. throughput: a backlog of `--jobs` no-op jobs already on the broker (rows bulk-inserted, then
   sent by the engine's own release, `jobs_release`), then the workers start; jobs per second
   from the first `started_at` to the last `finished_at`, the engine's whole path per job (claim,
   lease thread, run, success, notification, events, release).

All the bench's jobs belong to one owner, so JOB_USER_CONCURRENCY is raised (here and in the
workers) to let its backlog onto the broker; its rows are deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime
from typing import Any

OWNER = "bench_jobs"
WAIT_SECONDS = 600


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def wait_rows(query: Any, *, count: int, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while query.count() < count:
        if time.monotonic() > deadline:
            sys.exit(f"gave up waiting for {what}")
        time.sleep(0.2)


def accept(owner: Any, tag: str) -> tuple[Any, datetime]:
    """Accept one no-op job; the job and the moment its transaction committed."""
    from django.db import transaction
    from django.utils import timezone

    from tasks.services import job_create

    committed: list[datetime] = []
    with transaction.atomic():
        # Registered first, so it runs at the commit, before the job's own dispatch.
        transaction.on_commit(lambda: committed.append(timezone.now()))
        job = job_create(actor=owner, kind="noop", params={"tag": tag})
    return job, committed[0]


def measure_latency(owner: Any, count: int) -> dict[str, float]:
    from tasks.models import Job

    latencies, sending = [], []
    for n in range(count):
        job, committed = accept(owner, f"latency-{n}")
        deadline = time.monotonic() + 30
        started = None
        while started is None:
            started, sent = Job.objects.filter(pk=job.pk).values_list(
                "started_at", "dispatched_at"
            )[0]
            if started is None:
                if time.monotonic() > deadline:
                    sys.exit(f"job {job.pk} did not start")
                time.sleep(0.005)
        latencies.append((started - committed).total_seconds() * 1000)
        sending.append((sent - committed).total_seconds() * 1000)
        # Idle: the worker is done with it before the next one comes.
        time.sleep(0.05)
    return {
        "p50_ms": statistics.median(latencies),
        "p95_ms": percentile(latencies, 0.95),
        "max_ms": max(latencies),
        # Of which: from the commit to the row's mark (the release's queries), before publishing.
        "to_mark_p50_ms": statistics.median(sending),
    }


def measure_accept(owner: Any, count: int) -> float:
    started = time.perf_counter()
    for n in range(count):
        accept(owner, f"accept-{n}")
    return count / (time.perf_counter() - started)


def seed_backlog(owner: Any, count: int) -> float:
    """`count` no-op jobs on the broker; returns how many the release sent per second."""
    from django.utils import timezone

    from tasks.models import Job, JobPriority
    from tasks.services import jobs_release
    from tasks.services.jobs import dedupe_key

    now = timezone.now()
    Job.objects.bulk_create(
        (
            Job(
                owner=owner,
                kind="noop",
                params={"tag": f"backlog-{n}"},
                priority=JobPriority.NORMAL,
                dedupe_key=dedupe_key("noop", {"tag": f"backlog-{n}"}),
                run_after=now,
            )
            for n in range(count)
        ),
        batch_size=5000,
    )
    started, sent = time.perf_counter(), 0
    while sent < count:
        released = jobs_release(owner_id=owner.pk)
        if not released:
            sys.exit(f"only {sent} of {count} jobs were sent")
        sent += released
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--accept-jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="prefork children each")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Give it a PostgreSQL database of its own: DATABASE_URL=postgres://…/bench")
    if not os.environ.get("REDIS_URL"):
        sys.exit("Give it a Redis database of its own: REDIS_URL=redis://…/N")
    cap = str(args.jobs * 10)
    os.environ["JOB_USER_CONCURRENCY"] = cap
    os.environ["JOB_DEDUPE_SECONDS"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    setup_django()

    from django.core.management import call_command
    from django.db.models import Max, Min

    from accounts.models import User
    from config.celery import app
    from tasks.models import Job, JobStatus
    from tests.tasks.processes import CeleryWorker

    call_command("migrate", verbosity=0)
    owner, _ = User.objects.get_or_create(username=OWNER, defaults={"email": f"{OWNER}@x.org"})
    Job.objects.filter(owner=owner).delete()
    app.control.purge()
    mine = Job.objects.filter(owner=owner)

    def start_workers() -> list[CeleryWorker]:
        workers = [
            CeleryWorker(concurrency=args.concurrency, name=f"bench{n}", JOB_USER_CONCURRENCY=cap)
            for n in range(args.workers)
        ]
        for worker in workers:
            worker.start()
        return workers

    workers = start_workers()
    try:
        accept(owner, "warm-up")
        wait_rows(mine.filter(status=JobStatus.SUCCEEDED), count=1, what="a worker")
        latency = measure_latency(owner, args.latency_jobs)
        accept_rate = measure_accept(owner, args.accept_jobs)
        wait_rows(mine.filter(status=JobStatus.SUCCEEDED), count=mine.count(), what="accepted")
    finally:
        for worker in workers:
            worker.stop()

    mine.delete()
    release_rate = seed_backlog(owner, args.jobs)
    workers = start_workers()
    try:
        wait_rows(mine.filter(status=JobStatus.SUCCEEDED), count=args.jobs, what="the backlog")
    finally:
        for worker in workers:
            worker.stop()
    span = mine.aggregate(first=Min("started_at"), last=Max("finished_at"))
    seconds = (span["last"] - span["first"]).total_seconds()
    mine.delete()

    processes = f"{args.workers} worker(s) x {args.concurrency} prefork"
    print(f"jobs bench: {processes}, PostgreSQL + Redis, {os.cpu_count()} cores")
    print(
        f"  latency at idle ({args.latency_jobs} jobs, commit → started_at): "
        f"p50 {latency['p50_ms']:.1f} ms, p95 {latency['p95_ms']:.1f} ms, "
        f"max {latency['max_ms']:.1f} ms (commit → marked sent: p50 "
        f"{latency['to_mark_p50_ms']:.1f} ms)"
    )
    print(f"  accept (job_create, one thread, dispatched on commit): {accept_rate:.0f} jobs/s")
    print(f"  release of a backlog to the broker (jobs_release): {release_rate:.0f} jobs/s")
    print(
        f"  throughput ({args.jobs} no-op jobs, first start → last end): "
        f"{args.jobs / seconds:.0f} jobs/s = {args.jobs / seconds * 3600:,.0f} jobs/hour"
    )


if __name__ == "__main__":
    main()
