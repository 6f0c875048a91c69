"""Notification services and selectors: create and push, mark read, purge, and the reads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.celery import app as celery_app
from config.core.errors import ValidationFailed
from realtime import services
from realtime.models import Notification, NotificationKind
from realtime.representations import notification_representation
from realtime.selectors import notification_list, unread_notifications
from realtime.services import (
    MARK_READ_MAX_IDS,
    notification_create,
    notifications_mark_read,
    notifications_purge,
)
from tasks.tasks import notifications_purge_task
from tests.factories import UserFactory
from tests.realtime.helpers import RoomLog
from tests.realtime.notifications import NotificationFactory, created_days_ago

pytestmark = pytest.mark.django_db

JOB_DATA = {"job": {"id": "0193a000-0000-7000-8000-0000000000aa", "kind": "export"}}


@pytest.fixture
def listen() -> Iterator[Any]:
    listeners: list[RoomLog] = []

    def start(room: str) -> RoomLog:
        listeners.append(RoomLog(room))
        return listeners[-1]

    yield start
    for listener in listeners:
        listener.close()


# --- the model and its representation -------------------------------------------------------


def test_notification_ids_are_uuid7(user: Any) -> None:
    notification = notification_create(
        recipient_id=user.pk, kind=NotificationKind.JOB_FINISHED, data=JOB_DATA
    )

    assert notification.pk.version == 7


def test_representation_has_the_contract_fields() -> None:
    notification = NotificationFactory()

    assert notification_representation(notification) == {
        "id": str(notification.pk),
        "kind": "comment_on_post",
        "data": notification.data,
        "read": False,
        "created_at": notification.created_at.isoformat().replace("+00:00", "Z"),
    }


def test_read_is_whether_read_at_is_set() -> None:
    read, unread = NotificationFactory(read=True), NotificationFactory()

    assert notification_representation(read)["read"] is True
    assert notification_representation(unread)["read"] is False


def test_the_database_refuses_an_unknown_kind(user: Any) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(recipient=user, kind="post_liked", data={})


# --- notification_create --------------------------------------------------------------------


def test_create_writes_the_row_for_each_kind(user: Any) -> None:
    for kind in NotificationKind.values:
        notification_create(recipient_id=str(user.pk), kind=kind, data=JOB_DATA)

    stored = Notification.objects.filter(recipient=user)
    assert sorted(stored.values_list("kind", flat=True)) == sorted(NotificationKind.values)
    assert all(n.data == JOB_DATA and n.read_at is None for n in stored)


def test_create_refuses_an_unknown_kind_and_writes_nothing(user: Any) -> None:
    with pytest.raises(ValueError, match="post_liked"):
        notification_create(recipient_id=user.pk, kind="post_liked", data={})

    assert not Notification.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_create_pushes_the_notification_to_the_users_room_after_commit(listen: Any) -> None:
    recipient = UserFactory()
    room = listen(f"user:{recipient.pk}")

    with transaction.atomic():
        notification = notification_create(
            recipient_id=recipient.pk, kind=NotificationKind.JOB_FINISHED, data=JOB_DATA
        )
        pushed_before_commit = not room.nothing()
    message = room.next()

    assert pushed_before_commit is False
    assert message["event"] == "notification"
    assert message["room"] == f"user:{recipient.pk}"
    assert message["data"] == notification_representation(notification)


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_notification_is_never_pushed(listen: Any) -> None:
    recipient = UserFactory()
    room = listen(f"user:{recipient.pk}")

    def caller_that_fails() -> None:
        with transaction.atomic():
            notification_create(recipient_id=recipient.pk, kind="job_finished", data=JOB_DATA)
            raise RuntimeError("the caller's transaction fails")

    with pytest.raises(RuntimeError):
        caller_that_fails()

    assert room.nothing()
    assert not Notification.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_lone_notification_outside_a_transaction_opens_none(
    listen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One INSERT commits by itself: no BEGIN and COMMIT round trips; pushed right after it."""
    from django.db import connection

    recipient = UserFactory()
    room = listen(f"user:{recipient.pk}")
    commits: list[None] = []
    commit = connection.commit
    monkeypatch.setattr(connection, "commit", lambda: commits.append(None) or commit())

    notification = notification_create(
        recipient_id=recipient.pk, kind=NotificationKind.JOB_FINISHED, data=JOB_DATA
    )

    assert commits == []
    assert room.next()["data"] == notification_representation(notification)
    assert Notification.objects.get().pk == notification.pk


@pytest.mark.django_db(transaction=True)
def test_several_notifications_are_one_atomic_insert(listen: Any) -> None:
    first, second = UserFactory(), UserFactory()
    rooms = [listen(f"user:{first.pk}"), listen(f"user:{second.pk}")]

    services.notifications_create(
        drafts=[
            services.NotificationDraft(recipient_id=user.pk, kind="job_finished", data=JOB_DATA)
            for user in (first, second)
        ]
    )

    assert [room.next()["event"] for room in rooms] == ["notification", "notification"]
    assert Notification.objects.count() == 2


def test_a_failed_push_keeps_the_notification(
    user: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    def channel_layer_down(*args: Any) -> None:
        raise ConnectionError("channel layer down")

    monkeypatch.setattr(services, "broadcast", channel_layer_down)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notification_create(recipient_id=user.pk, kind="job_finished", data=JOB_DATA)

    assert len(callbacks) == 1
    assert Notification.objects.filter(recipient=user).count() == 1


# --- notifications_mark_read ----------------------------------------------------------------


def test_mark_read_by_ids_counts_only_own_unread_ones(user: Any) -> None:
    own = NotificationFactory.create_batch(2, recipient=user)
    already_read = NotificationFactory(recipient=user, read=True)
    others = NotificationFactory()
    ids = [str(n.pk) for n in [*own, already_read, others]] + [str(uuid.uuid4())]

    updated = notifications_mark_read(actor=user, ids=ids)

    assert updated == 2
    assert not Notification.objects.filter(recipient=user, read_at__isnull=True).exists()
    others.refresh_from_db()
    assert others.read_at is None
    read_at = already_read.read_at
    already_read.refresh_from_db()
    assert already_read.read_at == read_at


def test_mark_read_all_takes_every_own_unread_one_and_nothing_else(user: Any) -> None:
    NotificationFactory.create_batch(3, recipient=user)
    NotificationFactory(recipient=user, read=True)
    others = NotificationFactory()

    assert notifications_mark_read(actor=user, all=True) == 3
    assert notifications_mark_read(actor=user, all=True) == 0
    others.refresh_from_db()
    assert others.read_at is None


def test_marking_again_counts_nothing(user: Any) -> None:
    notification = NotificationFactory(recipient=user)

    first = notifications_mark_read(actor=user, ids=[notification.pk, notification.pk])
    second = notifications_mark_read(actor=user, ids=[notification.pk])

    assert (first, second) == (1, 0)


@pytest.mark.parametrize("how", ["ids", "all"])
def test_mark_read_is_one_update(user: Any, django_assert_num_queries: Any, how: str) -> None:
    notifications = NotificationFactory.create_batch(3, recipient=user)
    arguments = {"ids": [n.pk for n in notifications]} if how == "ids" else {"all": True}

    with django_assert_num_queries(1) as captured:
        notifications_mark_read(actor=user, **arguments)

    assert captured.captured_queries[0]["sql"].startswith("UPDATE")


def test_an_empty_id_list_marks_nothing_without_a_query(
    user: Any, django_assert_num_queries: Any
) -> None:
    NotificationFactory(recipient=user)

    with django_assert_num_queries(0):
        assert notifications_mark_read(actor=user, ids=[]) == 0


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({}, "non_field_errors"),
        ({"all": False}, "non_field_errors"),
        ({"ids": [str(uuid.uuid4())], "all": True}, "non_field_errors"),
        ({"ids": ["not-a-uuid"]}, "ids"),
        ({"ids": "0193a000-0000-7000-8000-000000000001"}, "ids"),
        ({"ids": [str(uuid.uuid4()) for _ in range(MARK_READ_MAX_IDS + 1)]}, "ids"),
    ],
    ids=["neither", "all-false", "both", "not-a-uuid", "not-a-list", "too-many"],
)
def test_mark_read_refuses_bad_arguments_and_changes_nothing(
    user: Any, arguments: dict[str, Any], field: str
) -> None:
    NotificationFactory(recipient=user)

    with pytest.raises(ValidationFailed) as refused:
        notifications_mark_read(actor=user, **arguments)

    assert field in refused.value.details
    assert Notification.objects.filter(read_at__isnull=True).count() == 1


# --- selectors ------------------------------------------------------------------------------


def test_notification_list_is_the_actors_own_newest_first(user: Any) -> None:
    older = created_days_ago(NotificationFactory(recipient=user), 2)
    newer = created_days_ago(NotificationFactory(recipient=user, read=True), 1)
    NotificationFactory()

    assert list(notification_list(actor=user, unread=None)) == [newer, older]
    assert list(notification_list(actor=user, unread=True)) == [older]
    assert list(notification_list(actor=user, unread=False)) == [newer]


def test_unread_notifications_are_the_newest_unread_ones_oldest_first(
    user: Any, django_assert_num_queries: Any
) -> None:
    oldest, middle, newest = (
        created_days_ago(NotificationFactory(recipient=user), days) for days in (3, 2, 1)
    )
    NotificationFactory(recipient=user, read=True)
    NotificationFactory()

    with django_assert_num_queries(1):
        everything = unread_notifications(user_id=str(user.pk))
    latest_two = unread_notifications(user_id=str(user.pk), limit=2)

    assert [n["id"] for n in everything] == [str(oldest.pk), str(middle.pk), str(newest.pk)]
    assert everything[0] == notification_representation(oldest)
    assert [n["id"] for n in latest_two] == [str(middle.pk), str(newest.pk)]


def test_unread_notifications_of_a_user_without_any_are_empty(user: Any) -> None:
    NotificationFactory(recipient=user, read=True)

    assert unread_notifications(user_id=str(user.pk)) == []


# --- purge ----------------------------------------------------------------------------------


def test_the_purge_task_deletes_notifications_older_than_30_days(user: Any) -> None:
    old_unread = created_days_ago(NotificationFactory(recipient=user), 31)
    old_read = created_days_ago(NotificationFactory(recipient=user, read=True), 45)
    kept = [
        created_days_ago(NotificationFactory(recipient=user), 29),
        NotificationFactory(recipient=user, read=True),
    ]

    deleted = notifications_purge_task()

    assert deleted == 2
    assert not Notification.objects.filter(pk__in=[old_unread.pk, old_read.pk]).exists()
    assert set(Notification.objects.values_list("pk", flat=True)) == {n.pk for n in kept}


def test_purge_is_one_delete(user: Any, django_assert_num_queries: Any) -> None:
    for days in (31, 40, 50):
        created_days_ago(NotificationFactory(recipient=user), days)

    with django_assert_num_queries(1) as captured:
        assert notifications_purge(older_than_days=30) == 3

    assert captured.captured_queries[0]["sql"].startswith("DELETE")


def test_purge_takes_a_shorter_retention(user: Any) -> None:
    created_days_ago(NotificationFactory(recipient=user), 2)
    NotificationFactory(recipient=user)

    assert notifications_purge(older_than_days=1) == 1


def test_purge_refuses_a_negative_age() -> None:
    with pytest.raises(ValueError, match="zero or more"):
        notifications_purge(older_than_days=-1)


def test_beat_runs_the_purge_daily() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["notifications-purge"]

    assert entry["schedule"] == timedelta(days=1).total_seconds()
    assert entry["task"] == notifications_purge_task.name
    assert entry["task"] in celery_app.tasks


def test_created_at_is_set_on_insert(user: Any) -> None:
    before = timezone.now()

    notification = notification_create(recipient_id=user.pk, kind="job_finished", data={})

    assert before <= notification.created_at <= timezone.now()
