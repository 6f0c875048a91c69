"""Writes and side effects of the background stack."""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from django.utils import timezone
from uuid_utils.compat import uuid7

from accounts.models import User
from config.core.task_queue import enqueue_on_commit
from realtime.broadcast import broadcast
from tasks.selectors import HEARTBEAT_CACHE_KEY

logger = logging.getLogger("agora.tasks")

DEMO_JOB_TASK = "tasks.demo_job"


def heartbeat_record() -> str:
    """Record that beat and a worker are alive; the time is kept for a day."""
    now = timezone.now().isoformat()
    cache.set(HEARTBEAT_CACHE_KEY, now, timeout=24 * 60 * 60)
    logger.info("heartbeat", extra={"at": now})
    return now


def demo_job_start(*, actor: User, message: str) -> str:
    """Queue the demo job for `actor`; its result is pushed to the actor's `user:` room."""
    job_id = str(uuid7())
    enqueue_on_commit(
        DEMO_JOB_TASK,
        task_id=job_id,
        job_id=job_id,
        user_id=str(actor.pk),
        message=message,
    )
    logger.info("demo job queued", extra={"job_id": job_id, "user": str(actor.pk)})
    return job_id


def demo_job_run(*, job_id: str, user_id: str, message: str) -> dict[str, Any]:
    """The demo job's work: a small text analysis, announced to its owner when done."""
    result = {
        "characters": len(message),
        "words": len(message.split()),
        "reversed": message[::-1],
        "finished_at": timezone.now().isoformat(),
    }
    logger.info("demo job finished", extra={"job_id": job_id, "user": user_id})
    broadcast(f"user:{user_id}", "demo.finished", {"job_id": job_id, "result": result})
    return result
