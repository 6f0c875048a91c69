"""Celery tasks. Bodies stay thin: they load what they need and call services."""

from __future__ import annotations

import logging
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
