"""Celery tasks. Bodies stay thin: they load what they need and call services."""

from __future__ import annotations

import logging
from smtplib import SMTPException
from typing import Any

from celery import shared_task

logger = logging.getLogger("agora.tasks")


@shared_task(name="tasks.heartbeat", ignore_result=True)
def heartbeat_task() -> str:
    """Scheduled by beat; proves the scheduler and a worker are alive (see /health/ready)."""
    from tasks.services import heartbeat_record

    return heartbeat_record()


@shared_task(name="tasks.demo_job", ignore_result=True)
def demo_job_task(*, job_id: str, user_id: str, message: str) -> dict[str, Any]:
    from tasks.services import demo_job_run

    return demo_job_run(job_id=job_id, user_id=user_id, message=message)


# Mail servers fail transiently; a few spaced retries beat losing a verification email.
_EMAIL_RETRY = {
    "autoretry_for": (OSError, SMTPException),
    "retry_backoff": 10,
    "retry_backoff_max": 600,
    "max_retries": 5,
}


@shared_task(name="tasks.account_email", ignore_result=True, **_EMAIL_RETRY)
def account_email_task(*, kind: str, user_id: str) -> bool:
    """Verification email or known-address notice, queued by registration."""
    from accounts.services import account_email_send

    return account_email_send(kind=kind, user_id=user_id)


@shared_task(name="tasks.password_reset_email", ignore_result=True, **_EMAIL_RETRY)
def password_reset_email_task(*, email: str) -> bool:
    """Looks the address up here, not in the request, so unknown ones answer just as fast."""
    from accounts.services import password_reset_email_send

    return password_reset_email_send(email=email)


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


@shared_task(
    name="tasks.thumbnail",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=5,
    max_retries=3,
)
def thumbnail_task(*, upload_id: str) -> dict[str, str]:
    """Queued on commit of every image upload: its 256 and 1024 px thumbnails.

    The seam of the `thumbnail` job kind (API.md, "Background jobs"): once Jobs exist, this
    becomes a Job of kind `thumbnail` with params `{"upload": id}` whose runner calls the
    same service, content.services.upload_thumbnails_make, and reports its result.
    """
    from content.services import upload_thumbnails_make

    return upload_thumbnails_make(upload_id=upload_id)


@shared_task(name="tasks.upload_sessions_purge", ignore_result=True)
def upload_sessions_purge_task() -> int:
    """Scheduled hourly: give up chunked uploads idle for 24 h and delete their bytes."""
    from content.services import upload_sessions_purge

    return upload_sessions_purge()
