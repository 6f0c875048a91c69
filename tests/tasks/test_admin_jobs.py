"""Jobs in the Django admin, through the real admin pages: found, filtered, read-only, and
requeued or cancelled only through the engine's services."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from audits.models import AuditRecord
from tasks.models import Job, JobStatus
from tests.factories import UserFactory
from tests.tasks.job_rows import job_row

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:tasks_job_changelist")


@pytest.fixture
def admin_browser(admin_user: Any) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def listed(response: Any) -> set[Any]:
    assert response.status_code == 200
    return {job.pk for job in response.context["cl"].result_list}


def page_messages(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def act(browser: Client, action: str, *jobs: Job) -> Any:
    return browser.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(job.pk) for job in jobs]},
        follow=True,
    )


def status_of(job: Job) -> str:
    return Job.objects.get(pk=job.pk).status


def test_the_list_filters_by_status_kind_and_priority(admin_browser: Client) -> None:
    dead = job_row(status=JobStatus.DEAD, kind="broken")
    queued_high = job_row(priority="high")
    running = job_row(status=JobStatus.RUNNING, kind="steps", priority="low")

    assert listed(admin_browser.get(CHANGELIST)) == {dead.pk, queued_high.pk, running.pk}
    assert listed(admin_browser.get(CHANGELIST, {"status__exact": "dead"})) == {dead.pk}
    assert listed(admin_browser.get(CHANGELIST, {"kind": "steps"})) == {running.pk}
    assert listed(admin_browser.get(CHANGELIST, {"priority__exact": "high"})) == {queued_high.pk}


def test_the_kind_filter_offers_every_registered_kind(admin_browser: Client) -> None:
    response = admin_browser.get(CHANGELIST)

    kind_filter = next(f for f in response.context["cl"].filter_specs if f.title == "kind")
    assert {"thumbnail", "noop", "broken"} <= {value for value, _ in kind_filter.lookup_choices}


def test_the_list_finds_jobs_by_owner_username_and_by_id(admin_browser: Client) -> None:
    zoe = UserFactory(username="zoë_ångström")
    hers = job_row(owner=zoe)
    other = job_row(owner=UserFactory(username="李雷"))

    by_owner = admin_browser.get(CHANGELIST, {"q": "ångström"})
    by_id = admin_browser.get(CHANGELIST, {"q": f" {other.pk} "})

    assert listed(by_owner) == {hers.pk}
    assert listed(by_id) == {other.pk}


@pytest.mark.parametrize("rows", [2, 20])
def test_the_list_query_count_does_not_grow_with_rows(
    admin_browser: Client, rows: int, django_assert_num_queries: Any
) -> None:
    for _ in range(rows):
        job_row(status=JobStatus.DEAD, kind="broken")

    # session, user, count of the filtered rows, the page with its owners
    with django_assert_num_queries(4):
        response = admin_browser.get(CHANGELIST, {"status__exact": "dead", "q": "müller"})

    assert len(response.context["cl"].result_list) == rows


def test_a_job_page_is_read_only(admin_browser: Client) -> None:
    job = job_row(status=JobStatus.DEAD, kind="broken")
    change_url = reverse("admin:tasks_job_change", args=[job.pk])

    page = admin_browser.get(change_url)
    posted = admin_browser.post(change_url, {"status": "queued", "attempts": "0"})

    assert page.status_code == 200
    assert "RuntimeError: this job always fails" in page.content.decode()
    assert b'name="status"' not in page.content
    assert posted.status_code == 403
    assert status_of(job) == JobStatus.DEAD


def test_jobs_cannot_be_added_or_deleted_in_the_admin(admin_browser: Client) -> None:
    job = job_row()

    added = admin_browser.get(reverse("admin:tasks_job_add"))
    deleted = admin_browser.post(reverse("admin:tasks_job_delete", args=[job.pk]), {"post": "yes"})

    assert (added.status_code, deleted.status_code) == (403, 403)
    assert Job.objects.filter(pk=job.pk).exists()


def test_requeue_puts_dead_failed_and_cancelled_jobs_back_in_the_queue_and_sends_them(
    admin_browser: Client, django_capture_on_commit_callbacks: Any
) -> None:
    ended = [job_row(status=status) for status in ("dead", "failed", "cancelled")]

    with django_capture_on_commit_callbacks(execute=True):
        response = act(admin_browser, "requeue", *ended)

    assert page_messages(response) == ["Requeued 3 job(s)."]
    for job in ended:
        job.refresh_from_db()
        assert (job.status, job.attempts, job.error, job.dispatched_at is not None) == (
            JobStatus.QUEUED,
            0,
            "",
            True,
        )
    requeues = AuditRecord.objects.filter(action="job.requeued")
    assert {record.target_id for record in requeues} == {str(job.pk) for job in ended}
    assert {record.actor_id for record in requeues} == {response.wsgi_request.user.pk}


def test_requeue_refuses_active_jobs_and_twins_of_active_ones_with_a_message_each(
    admin_browser: Client,
) -> None:
    dead = job_row(status=JobStatus.DEAD)
    running = job_row(status=JobStatus.RUNNING)
    owner = UserFactory()
    dead_twin = job_row(status=JobStatus.DEAD, owner=owner, params={"tag": "twin"})
    job_row(owner=owner, params={"tag": "twin"})

    response = act(admin_browser, "requeue", dead, running, dead_twin)

    assert page_messages(response) == [
        "Requeued 1 job(s).",
        f"Not requeued: {running.pk}: Only ended jobs are requeued; this one is running.",
        f"Not requeued: {dead_twin.pk}: An identical job is already queued or running.",
    ]
    assert [status_of(job) for job in (dead, running, dead_twin)] == ["queued", "running", "dead"]


def test_cancel_stops_queued_jobs_asks_running_ones_and_refuses_ended_ones(
    admin_browser: Client,
) -> None:
    queued, running = job_row(), job_row(status=JobStatus.RUNNING)
    succeeded = job_row(status=JobStatus.SUCCEEDED)

    response = act(admin_browser, "cancel", queued, running, succeeded)

    assert page_messages(response) == [
        "Cancelled 2 job(s); a running one stops at its next step.",
        f"Not cancelled: {succeeded.pk}: The job already ended (succeeded).",
    ]
    running.refresh_from_db()
    assert status_of(queued) == JobStatus.CANCELLED
    assert (running.status, running.cancel_requested) == (JobStatus.RUNNING, True)
    assert status_of(succeeded) == JobStatus.SUCCEEDED


def test_a_staff_member_who_is_not_an_admin_cannot_requeue_others_jobs() -> None:
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_job"))
    browser = Client()
    browser.force_login(staff)
    dead = job_row(status=JobStatus.DEAD)

    response = act(browser, "requeue", dead)

    assert page_messages(response) == [f"Not requeued: {dead.pk}: No such job."]
    assert status_of(dead) == JobStatus.DEAD
