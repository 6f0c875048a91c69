"""Job rows in a given state, for the operator tools' tests (admin, `manage.py jobs`).

The engine's own tests drive jobs through their states; these tests need many jobs already in
one, so the rows are written as the engine would have left them.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from django.utils import timezone

from tasks.models import ENDED_STATUSES, Job, JobStatus
from tasks.services.jobs import dedupe_key
from tests.factories import UserFactory

_tags = itertools.count()


def job_row(
    *, status: str = JobStatus.QUEUED, kind: str = "noop", owner: Any = None, **fields: Any
) -> Job:
    """A job of `kind` in `status`; distinct params per row, so no two share a dedupe key."""
    now = timezone.now()
    params = fields.pop("params", {"tag": f"t{next(_tags)}"})
    started = status != JobStatus.QUEUED
    ended = status in ENDED_STATUSES
    values: dict[str, Any] = {
        "owner": owner or UserFactory(),
        "kind": kind,
        "params": params,
        "status": status,
        "dedupe_key": dedupe_key(kind, params),
        "run_after": now - timedelta(seconds=5),
        "attempts": 4 if status == JobStatus.DEAD else int(started),
        "started_at": now - timedelta(seconds=2) if started else None,
        "finished_at": now if ended else None,
        "lease_expires_at": now + timedelta(seconds=30) if status == JobStatus.RUNNING else None,
        "worker": "celery@worker-1" if started else "",
        "error": "RuntimeError: this job always fails" if status == JobStatus.DEAD else "",
    }
    return Job.objects.create(**(values | fields))
