"""Notifications in the admin: listed and filtered by kind and read state, never edited."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.realtime.notifications import NotificationFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:realtime_notification_changelist")


@pytest.fixture
def admin_browser(admin_user: Any) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def listed(response: Any) -> set[str]:
    assert response.status_code == 200
    return {str(n.pk) for n in response.context["cl"].result_list}


def test_the_list_filters_by_kind_and_by_read(admin_browser: Client) -> None:
    unread_comment = NotificationFactory()
    read_comment = NotificationFactory(read=True)
    job = NotificationFactory(kind="job_finished", data={"job": {"id": "x"}})

    everything = admin_browser.get(CHANGELIST)
    jobs = admin_browser.get(CHANGELIST, {"kind__exact": "job_finished"})
    unread = admin_browser.get(CHANGELIST, {"read": "no"})
    read = admin_browser.get(CHANGELIST, {"read": "yes"})

    assert listed(everything) == {str(n.pk) for n in (unread_comment, read_comment, job)}
    assert listed(jobs) == {str(job.pk)}
    assert listed(unread) == {str(unread_comment.pk), str(job.pk)}
    assert listed(read) == {str(read_comment.pk)}


def test_the_list_searches_by_recipient(admin_browser: Client) -> None:
    mine = NotificationFactory(recipient__username="jürgen_müller")
    NotificationFactory()

    assert listed(admin_browser.get(CHANGELIST, {"q": "jürgen"})) == {str(mine.pk)}


def test_a_notification_is_shown_read_only(admin_browser: Client) -> None:
    notification = NotificationFactory()
    change_url = reverse("admin:realtime_notification_change", args=[notification.pk])

    page = admin_browser.get(change_url)
    posted = admin_browser.post(change_url, {"kind": "job_finished"})

    assert page.status_code == 200
    assert posted.status_code == 403
    notification.refresh_from_db()
    assert notification.kind == "comment_on_post"


def test_notifications_cannot_be_added_or_deleted_in_the_admin(admin_browser: Client) -> None:
    notification = NotificationFactory()

    added = admin_browser.get(reverse("admin:realtime_notification_add"))
    deleted = admin_browser.get(
        reverse("admin:realtime_notification_delete", args=[notification.pk])
    )

    assert (added.status_code, deleted.status_code) == (403, 403)
