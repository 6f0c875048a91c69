"""The beat schedule in the admin: beat's scheduler (the one CELERY_BEAT_SCHEDULER names)
turns CELERY_BEAT_SCHEDULE into PeriodicTask rows, and an operator's edits in the admin survive
a restart of beat."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from celery.utils.imports import symbol_by_name
from django import forms
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.celery import app

# The scheduler writes outside any test transaction (it commits, and closes connections).
pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = reverse("admin:django_celery_beat_periodictask_changelist")
EXPECTED = {
    "heartbeat",
    "login-sessions-purge",
    "idempotency-keys-purge",
    "notifications-purge",
    "upload-sessions-purge",
    "job-results-purge",
    "jobs-sweep",
    "audit-chain-seal",
}


def beat_starts() -> Any:
    """What `celery beat` (and the embedded beat thread) does first: build its scheduler."""
    scheduler_class = symbol_by_name(app.conf.beat_scheduler)
    return scheduler_class(app=app)


def intervals() -> dict[str, timedelta | None]:
    rows = PeriodicTask.objects.select_related("interval")
    return {row.name: row.interval.schedule.run_every if row.interval else None for row in rows}


def scheduled(scheduler: Any) -> dict[str, timedelta]:
    return {name: entry.schedule.run_every for name, entry in scheduler.schedule.items()}


@pytest.fixture
def admin_browser(transactional_db: None) -> Client:
    from tests.factories import AdminFactory

    client = Client()
    client.force_login(AdminFactory())
    return client


def change_form_data(form: forms.Form) -> dict[str, Any]:
    """The values an unchanged change form posts back."""
    data: dict[str, Any] = {}
    for field in form:
        value, widget = field.value(), field.field.widget
        if isinstance(widget, forms.CheckboxInput):
            data.update({field.html_name: "on"} if value else {})
        elif isinstance(widget, forms.MultiWidget):
            parts = value if isinstance(value, list) else widget.decompress(value)
            data.update({f"{field.html_name}_{i}": p for i, p in enumerate(parts) if p})
        elif value is not None:
            data[field.html_name] = value
    return data


def test_beat_turns_every_schedule_entry_into_a_periodic_task_row() -> None:
    scheduler = beat_starts()

    assert set(settings.CELERY_BEAT_SCHEDULE) == EXPECTED
    assert set(PeriodicTask.objects.values_list("name", flat=True)) == EXPECTED
    expected = {
        name: timedelta(seconds=entry["schedule"])
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
    }
    assert intervals() == expected
    assert scheduled(scheduler) == expected
    tasks = dict(PeriodicTask.objects.values_list("name", "task"))
    assert tasks == {n: e["task"] for n, e in settings.CELERY_BEAT_SCHEDULE.items()}


def test_the_schedule_is_listed_in_the_admin(admin_browser: Client) -> None:
    beat_starts()

    response = admin_browser.get(CHANGELIST)

    assert response.status_code == 200
    assert {task.name for task in response.context["cl"].result_list} == EXPECTED


def test_an_interval_changed_and_a_task_disabled_in_the_admin_survive_a_restart_of_beat(
    admin_browser: Client,
) -> None:
    beat_starts()
    purge = PeriodicTask.objects.get(name="notifications-purge")
    two_hours, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.HOURS)
    change_url = reverse("admin:django_celery_beat_periodictask_change", args=[purge.pk])
    form = admin_browser.get(change_url).context["adminform"].form

    edited = admin_browser.post(change_url, change_form_data(form) | {"interval": two_hours.pk})
    disabled = admin_browser.post(
        CHANGELIST,
        {
            "action": "disable_tasks",
            "_selected_action": [PeriodicTask.objects.get(name="upload-sessions-purge").pk],
        },
    )
    assert (edited.status_code, disabled.status_code) == (302, 302)

    restarted = beat_starts()

    assert intervals()["notifications-purge"] == timedelta(hours=2)
    assert not PeriodicTask.objects.get(name="upload-sessions-purge").enabled
    assert scheduled(restarted)["notifications-purge"] == timedelta(hours=2)
    assert "upload-sessions-purge" not in scheduled(restarted)
    assert scheduled(restarted)["heartbeat"] == timedelta(seconds=60)


def test_a_deleted_row_comes_back_from_the_settings_at_the_next_start() -> None:
    beat_starts()
    PeriodicTask.objects.filter(name="jobs-sweep").delete()

    beat_starts()

    assert intervals()["jobs-sweep"] == timedelta(
        seconds=settings.CELERY_BEAT_SCHEDULE["jobs-sweep"]["schedule"]
    )
