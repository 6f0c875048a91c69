"""Running one job: claim its row, run its kind with a context, record how it ended.

Called by the Celery task `tasks.run_job` (tasks.tasks) with the job's id. While the kind
works, a small thread keeps the attempt's lease fresh, so the sweep can tell a slow job from a
dead worker; a worker killed with `kill -9` stops renewing it, and the job runs again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import IO, Any

import sentry_sdk
from django.conf import settings
from django.db import connections

from config.core.context import request_id_var
from tasks.exceptions import JobCancelled, JobLost
from tasks.kinds import JobFailed, JobRetry, kind_get
from tasks.models import Job
from tasks.results import result_delete, result_save
from tasks.services import jobs as engine

logger = logging.getLogger("agora.tasks")

# A kind reports progress as often as it likes; the row and the room hear of it this often.
PROGRESS_MIN_INTERVAL_SECONDS = 0.25


class JobContext:
    """What a kind's `run` gets: its params and owner, progress, output and result files."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.params: dict[str, Any] = job.params
        self.result_file = ""
        self._progress_at = 0.0

    @property
    def owner(self) -> Any:
        return self.job.owner

    def progress(self, percent: float) -> None:
        """Report progress (0 to 100). Raises JobCancelled when the owner cancelled the job:
        let it propagate (the kind stops at this step)."""
        now = time.monotonic()
        if now - self._progress_at < PROGRESS_MIN_INTERVAL_SECONDS and percent < 100:
            return
        self._progress_at = now
        engine.job_progress_report(job=self.job, progress=int(percent))

    def check_cancelled(self) -> None:
        """Between steps of a kind that reports no progress: raise if it must stop."""
        engine.job_check_cancelled(job=self.job)

    def output(self, chunk: str) -> None:
        """Stream text as it is written (`job.output` events in the job's room)."""
        engine.job_output(job=self.job, chunk=chunk)

    def save_result_file(self, filename: str, source: IO[bytes]) -> str:
        """Store the job's result file (downloaded from `GET jobs/{id}/result`)."""
        result_delete(self.result_file)
        self.result_file = result_save(job_id=self.job.pk, filename=filename, source=source)
        return self.result_file


class _LeaseKeeper(threading.Thread):
    """Renews the attempt's lease every third of JOB_LEASE_SECONDS until stopped."""

    def __init__(self, job: Job) -> None:
        super().__init__(name=f"job-lease-{job.pk}", daemon=True)
        self.job = job
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        interval = settings.JOB_LEASE_SECONDS / 3
        try:
            while not self.stopped.wait(interval):
                try:
                    engine.job_lease_extend(job=self.job)
                except JobLost:
                    self.lost = True
                    return
                except Exception:
                    logger.exception("could not renew the lease of job %s", self.job.pk)
        finally:
            connections.close_all()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


def job_run(*, job_id: str, worker: str) -> str | None:
    """Run the job if this message may; returns how it ended (None: not run here)."""
    job = engine.job_claim(job_id=job_id, worker=worker)
    if job is None:
        return None
    token = request_id_var.set(job.request_id or None)
    keeper = _LeaseKeeper(job)
    keeper.start()
    context = JobContext(job)
    try:
        with sentry_sdk.new_scope() as scope:
            _tag_error_reports(scope, job)
            return _run_claimed(job, context)
    finally:
        keeper.stop()
        request_id_var.reset(token)


def _tag_error_reports(scope: Any, job: Job) -> None:
    """Name the job in whatever this attempt reports to Sentry (with SENTRY_DSN; nothing
    otherwise): its failure is an error log record, which the logging integration sends."""
    scope.set_tag("job.id", str(job.pk))
    scope.set_tag("job.kind", job.kind)
    scope.set_tag("job.priority", job.priority)
    if job.request_id:
        scope.set_tag("request_id", job.request_id)
    scope.set_context(
        "job",
        {"attempt": job.attempts, "max_attempts": job.max_attempts, "owner": str(job.owner_id)},
    )


def _run_claimed(job: Job, context: JobContext) -> str | None:
    kind = kind_get(job.kind)
    extra = {"job_id": str(job.pk), "kind": job.kind, "attempt": job.attempts}
    logger.info("job started", extra=extra)
    try:
        if kind is None:
            raise JobFailed(f"This server does not know the job kind {job.kind!r}.")
        result = kind.run(context)
    except JobCancelled:
        result_delete(context.result_file)
        engine.job_cancelled(job=job)
        logger.info("job cancelled", extra=extra)
        return "cancelled"
    except JobLost:
        result_delete(context.result_file)
        logger.warning("job lost its lease; another attempt runs it", extra=extra)
        return None
    except JobFailed as error:
        result_delete(context.result_file)
        return engine.job_fail(job=job, error=str(error) or "The job failed.", retryable=False)
    except JobRetry as error:
        result_delete(context.result_file)
        logger.warning("job attempt failed: %s", error, extra=extra)
        return engine.job_fail(job=job, error=str(error) or "The attempt failed.")
    except Exception as error:
        result_delete(context.result_file)
        logger.exception("job attempt failed", extra=extra)
        return engine.job_fail(job=job, error=_describe(error))
    if engine.job_succeed(job=job, result=result, result_file=context.result_file):
        return "succeeded"
    return None


def _describe(error: BaseException) -> str:
    """What the job's `error` says: the exception's type and message, never a traceback."""
    message = str(error).strip()
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
