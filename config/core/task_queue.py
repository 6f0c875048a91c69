"""Publishing Celery tasks from services: after commit, and a dead broker is a 503, not a hang.

Apps that may not import `tasks` (accounts) name the task instead of importing it. The Celery
app is the process's default (config.celery), so `current_app` finds it from any thread.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, current_app
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError

from config.core.errors import ServiceUnavailable

logger = logging.getLogger("agora.tasks")


class JobQueueUnavailable(ServiceUnavailable):
    default_message = "The job queue is unavailable; try again shortly."


def enqueue_on_commit(task: Task | str, *, task_id: str | None = None, **kwargs: Any) -> None:
    """Publish `task` (a task or its registered name) once the surrounding transaction commits."""

    def publish() -> None:
        name = task if isinstance(task, str) else task.name
        try:
            current_app.send_task(name, kwargs=kwargs, task_id=task_id)
        except BrokerError as exc:
            logger.error("could not publish %s: %r", name, exc)
            raise JobQueueUnavailable() from exc

    transaction.on_commit(publish, robust=False)
