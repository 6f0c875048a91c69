"""The heartbeat: beat schedules it in the database scheduler, a real worker runs it, and
/health/ready shows when it last ran (kept from the demo job's tests when jobs replaced it)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from tasks.selectors import HEARTBEAT_CACHE_KEY
from tasks.tasks import heartbeat_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_heartbeat_task_runs_on_the_worker_and_shows_in_readiness(celery_worker: Any) -> None:
    cache.delete(HEARTBEAT_CACHE_KEY)

    heartbeat_task.delay()

    deadline = time.monotonic() + 15
    while cache.get(HEARTBEAT_CACHE_KEY) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    beat = cache.get(HEARTBEAT_CACHE_KEY)
    assert beat is not None
    ready = Client().get("/health/ready").json()
    assert ready["checks"]["broker"]["last_heartbeat"] == beat


def test_heartbeat_and_the_job_sweep_are_scheduled_by_the_database_scheduler() -> None:
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import DatabaseScheduler

    from config.celery import app

    DatabaseScheduler(app=app, lazy=False).setup_schedule()

    for name, task in (("heartbeat", "tasks.heartbeat"), ("jobs-sweep", "tasks.jobs_sweep")):
        entry = PeriodicTask.objects.get(name=name)
        assert entry.task == task
        assert entry.enabled
        assert entry.interval is not None
