"""Celery tasks. Bodies stay thin: they load what they need and call services."""

from __future__ import annotations

import logging
from smtplib import SMTPException
from typing import NoReturn

from celery import Task, shared_task
from django.conf import settings

logger = logging.getLogger("agora.tasks")


@shared_task(name="tasks.heartbeat", ignore_result=True)
def heartbeat_task() -> str:
    """Scheduled by beat; proves the scheduler and a worker are alive (see /health/ready)."""
    from tasks.services import heartbeat_record

    return heartbeat_record()


@shared_task(name="tasks.run_job", ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def run_job_task(job_id: str) -> str | None:
    """Run one Job row (tasks.runner). Sent on the queue of the job's priority once its row is
    committed; a duplicate or late message finds the row taken and does nothing."""
    from tasks.runner import job_run

    return job_run(job_id=job_id, worker=run_job_task.request.hostname or "worker")


@shared_task(name="tasks.jobs_sweep", ignore_result=True)
def jobs_sweep_task() -> dict[str, int]:
    """Scheduled every JOB_SWEEP_SECONDS: revive jobs of dead workers, send what the broker
    never took or lost, start parked jobs whose turn came."""
    from dataclasses import asdict

    from tasks.services import jobs_sweep

    return asdict(jobs_sweep())


@shared_task(name="tasks.job_results_purge", ignore_result=True)
def job_results_purge_task() -> int:
    """Scheduled hourly: delete result files older than JOB_RESULT_TTL."""
    from tasks.services import job_results_purge

    return job_results_purge()


# Mail servers fail transiently: a few spaced retries beat losing a verification email.
# Each mail task retries what `mail_failure_is_transient` calls transient, EMAIL_RETRIES times,
# after `mail_retry_delay` (read when it fails, so the settings apply without a restart).
_EMAIL_TASK = {"bind": True, "ignore_result": True}


def _mail_retry(task: Task, error: Exception) -> NoReturn:
    from config.core.mail import mail_failure_is_transient, mail_retry_delay

    retries = task.request.retries
    if not mail_failure_is_transient(error) or retries >= settings.EMAIL_RETRIES:
        logger.error("mail not sent: %r", error, extra={"task": task.name, "attempts": retries + 1})
        raise error
    delay = mail_retry_delay(retries)
    logger.warning(
        "mail not sent, retrying: %r", error, extra={"task": task.name, "retry_in": delay}
    )
    raise task.retry(exc=error, countdown=delay, max_retries=settings.EMAIL_RETRIES)


@shared_task(name="tasks.account_email", **_EMAIL_TASK)
def account_email_task(self: Task, *, kind: str, user_id: str) -> bool:
    """Verification email or one of the account notices, queued by the accounts services."""
    from accounts.services import account_email_send

    try:
        return account_email_send(kind=kind, user_id=user_id)
    except (OSError, SMTPException) as error:
        _mail_retry(self, error)


@shared_task(name="tasks.password_reset_email", **_EMAIL_TASK)
def password_reset_email_task(self: Task, *, email: str) -> bool:
    """Looks the address up here, not in the request, so unknown ones answer just as fast."""
    from accounts.services import password_reset_email_send

    try:
        return password_reset_email_send(email=email)
    except (OSError, SMTPException) as error:
        _mail_retry(self, error)


@shared_task(name="tasks.login_sessions_purge", ignore_result=True)
def login_sessions_purge_task() -> int:
    """Scheduled daily: forget logins that ended or expired more than a week ago."""
    from accounts.services import login_sessions_purge

    return login_sessions_purge()


@shared_task(name="tasks.idempotency_keys_purge", ignore_result=True)
def idempotency_keys_purge_task() -> int:
    """Scheduled daily: forget Idempotency-Key answers older than 24 h."""
    from config.api.idempotency.store import idempotency_keys_purge

    return idempotency_keys_purge()


@shared_task(name="tasks.notifications_purge", ignore_result=True)
def notifications_purge_task() -> int:
    """Scheduled daily: notifications are kept 30 days, read or not."""
    from realtime.services import notifications_purge

    return notifications_purge()


@shared_task(name="tasks.audit_chain_seal", ignore_result=True)
def audit_chain_seal_task() -> int:
    """Scheduled every minute: seal audit records a race left unsealed after their commit."""
    from audits.services import audit_chain_seal

    return audit_chain_seal()


@shared_task(name="tasks.upload_sessions_purge", ignore_result=True)
def upload_sessions_purge_task() -> int:
    """Scheduled hourly: give up chunked uploads idle for 24 h and delete their bytes."""
    from content.services import upload_sessions_purge

    return upload_sessions_purge()
