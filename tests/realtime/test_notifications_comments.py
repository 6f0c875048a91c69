"""Comments notify the post's author and the parent comment's author: written with the comment,
pushed after the commit."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from audits.models import AuditRecord
from content import selectors
from content.models import Comment, PostStatus
from content.representations import text_excerpt
from content.services import comment_create
from content.services import comments as comment_services
from realtime import services as realtime_services
from realtime.models import Notification
from tests.content.factories import CommentFactory, PostFactory
from tests.factories import UserFactory
from tests.realtime.notifications import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def zoe(db: None) -> Any:
    """The post's author."""
    return UserFactory(username="zoë_ångström")


@pytest.fixture
def siobhan(db: None) -> Any:
    """Comments on Zoë's post."""
    return UserFactory(username="siobhán_o'brien")


@pytest.fixture
def lei(db: None) -> Any:
    """Another commenter."""
    return UserFactory(username="李雷")


def comment_via_api(
    client: APIClient, post: Any, body: str, parent: Any = None, **headers: str
) -> dict[str, Any]:
    payload = {"body": body} | ({"parent": str(parent.pk)} if parent is not None else {})
    response = client.post(f"/api/v1/posts/{post.pk}/comments", payload, format="json", **headers)
    assert response.status_code == 201, response.json()
    return response.json()


def notifications_of(user: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(n.kind, n.data) for n in Notification.objects.filter(recipient=user)]


def test_a_comment_notifies_the_posts_author(
    zoe: Any, siobhan: Any, django_capture_on_commit_callbacks: Any
) -> None:
    post = PostFactory(author=zoe, title="Grüße aus Köln — O'Brien's notes")

    with django_capture_on_commit_callbacks(execute=True):
        comment = comment_via_api(client_for(siobhan), post, "Schön! 👍")

    assert notifications_of(zoe) == [
        (
            "comment_on_post",
            {
                "post": {"id": str(post.pk), "title": "Grüße aus Köln — O'Brien's notes"},
                "comment": {"id": comment["id"], "parent": None, "excerpt": "Schön! 👍"},
                "actor": {"id": str(siobhan.pk), "username": "siobhán_o'brien"},
            },
        )
    ]
    assert notifications_of(siobhan) == []


def test_a_comment_on_your_own_post_notifies_nobody(
    zoe: Any, django_capture_on_commit_callbacks: Any
) -> None:
    post = PostFactory(author=zoe)

    with django_capture_on_commit_callbacks(execute=True):
        comment_via_api(client_for(zoe), post, "Nachtrag")

    assert not Notification.objects.exists()


def test_a_reply_notifies_the_parents_author_and_the_posts_author(
    zoe: Any, siobhan: Any, lei: Any, django_capture_on_commit_callbacks: Any
) -> None:
    post = PostFactory(author=zoe)
    parent = CommentFactory(post=post, author=siobhan)

    with django_capture_on_commit_callbacks(execute=True):
        reply = comment_via_api(client_for(lei), post, "同意", parent=parent)

    [(kind, data)] = notifications_of(siobhan)
    assert kind == "reply_to_comment"
    assert data["comment"] == {"id": reply["id"], "parent": str(parent.pk), "excerpt": "同意"}
    assert data["actor"] == {"id": str(lei.pk), "username": "李雷"}
    assert [kind for kind, _ in notifications_of(zoe)] == ["comment_on_post"]


def test_a_reply_to_the_post_authors_comment_is_only_a_reply_notification(
    zoe: Any, siobhan: Any, django_capture_on_commit_callbacks: Any
) -> None:
    post = PostFactory(author=zoe)
    parent = CommentFactory(post=post, author=zoe)

    with django_capture_on_commit_callbacks(execute=True):
        comment_via_api(client_for(siobhan), post, "Danke!", parent=parent)

    assert [kind for kind, _ in notifications_of(zoe)] == ["reply_to_comment"]


def test_the_post_author_replying_notifies_only_the_commenter(
    zoe: Any, siobhan: Any, django_capture_on_commit_callbacks: Any
) -> None:
    post = PostFactory(author=zoe)
    parent = CommentFactory(post=post, author=siobhan)

    with django_capture_on_commit_callbacks(execute=True):
        comment_via_api(client_for(zoe), post, "Gern geschehen", parent=parent)

    assert [kind for kind, _ in notifications_of(siobhan)] == ["reply_to_comment"]
    assert notifications_of(zoe) == []


def test_replying_to_your_own_comment_notifies_only_the_posts_author(
    zoe: Any, siobhan: Any, django_capture_on_commit_callbacks: Any
) -> None:
    post = PostFactory(author=zoe)
    parent = CommentFactory(post=post, author=siobhan)

    with django_capture_on_commit_callbacks(execute=True):
        comment_via_api(client_for(siobhan), post, "PS", parent=parent)

    assert notifications_of(siobhan) == []
    assert [kind for kind, _ in notifications_of(zoe)] == ["comment_on_post"]


def test_an_admin_commenting_on_a_draft_notifies_its_author(
    zoe: Any, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    draft = PostFactory(author=zoe, status=PostStatus.DRAFT)

    with django_capture_on_commit_callbacks(execute=True):
        comment_via_api(client_for(admin_user), draft, "Bitte noch die Quelle angeben.")

    assert [kind for kind, _ in notifications_of(zoe)] == ["comment_on_post"]


def test_edits_and_restores_notify_nobody(
    zoe: Any, siobhan: Any, django_capture_on_commit_callbacks: Any
) -> None:
    comment = CommentFactory(post=PostFactory(author=zoe), author=siobhan)
    client = client_for(siobhan)

    with django_capture_on_commit_callbacks(execute=True):
        client.patch(f"/api/v1/comments/{comment.pk}", {"body": "korrigiert"}, format="json")
        client.delete(f"/api/v1/comments/{comment.pk}")
        client.post(f"/api/v1/comments/{comment.pk}/restore")

    assert not Notification.objects.exists()


def test_the_excerpt_is_the_bodys_start_on_one_line_within_140_characters(
    zoe: Any, siobhan: Any, django_capture_on_commit_callbacks: Any
) -> None:
    body = "Erste Zeile,\n\n  zweite Zeile 🎉 " + "sehr lang " * 60

    with django_capture_on_commit_callbacks(execute=True):
        comment_via_api(client_for(siobhan), PostFactory(author=zoe), body)

    [(_, data)] = notifications_of(zoe)
    excerpt = data["comment"]["excerpt"]
    assert len(excerpt) <= 140
    assert excerpt.startswith("Erste Zeile, zweite Zeile 🎉 sehr lang")
    assert excerpt.endswith("…")
    assert "\n" not in excerpt


@pytest.mark.parametrize(
    ("text", "excerpt"),
    [
        ("kurz", "kurz"),
        ("a" * 140, "a" * 140),
        ("a" * 141, "a" * 139 + "…"),
        ("  zwei\tWörter\n", "zwei Wörter"),
    ],
)
def test_text_excerpt(text: str, excerpt: str) -> None:
    assert text_excerpt(text) == excerpt


def test_notifications_are_written_with_the_comment_and_pushed_after_the_commit(
    zoe: Any,
    siobhan: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    post = selectors.post_for_comments(actor=siobhan, post_id=PostFactory(author=zoe).pk)
    pushed: list[str] = []
    monkeypatch.setattr(
        realtime_services, "broadcast", lambda room, event, data: pushed.append(room)
    )

    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        comment_create(actor=siobhan, post=post, body="Merci !")
        written_in_the_transaction = Notification.objects.filter(recipient=zoe).count()
    pushed_before_the_commit = list(pushed)
    for callback in callbacks:
        callback()

    assert written_in_the_transaction == 1
    assert pushed_before_the_commit == []
    assert pushed == [f"user:{zoe.pk}"]


@pytest.mark.parametrize("reply", [False, True], ids=["comment", "reply"])
def test_notifying_adds_no_round_trip_on_postgresql(
    zoe: Any, siobhan: Any, lei: Any, reply: bool
) -> None:
    """A comment that notifies two people costs the round trips of one that notifies nobody:
    the notifications' INSERT goes with the comment's statements (SQLite runs each statement
    by itself, in the same transaction)."""
    own_post, others_post = PostFactory(author=lei), PostFactory(author=zoe)
    own_parent = CommentFactory(post=own_post, author=lei)
    others_parent = CommentFactory(post=others_post, author=siobhan)

    def queries(post: Any, parent: Any) -> list[str]:
        post = selectors.post_for_comments(actor=lei, post_id=post.pk)
        parent = selectors.comment_get(actor=lei, comment_id=parent.pk) if reply else None
        with CaptureQueriesContext(connection) as captured:
            comment_create(actor=lei, post=post, body="同意", parent=parent)
        return [query["sql"] for query in captured.captured_queries]

    notifying_nobody = queries(own_post, own_parent)
    notifying = queries(others_post, others_parent)

    with_notifications = [sql for sql in notifying if "realtime_notification" in sql]
    assert len(with_notifications) == 1
    assert not [sql for sql in notifying_nobody if "realtime_notification" in sql]
    extra = 0 if connection.vendor == "postgresql" else 1
    assert len(notifying) == len(notifying_nobody) + extra
    assert Notification.objects.filter(recipient__in=[zoe, siobhan]).count() == (2 if reply else 1)


@pytest.mark.django_db(transaction=True)
def test_a_notification_that_cannot_be_written_takes_the_comment_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """All or none: the comment, its count, its audit record and its notification."""
    zoe, siobhan = UserFactory(), UserFactory()
    post = PostFactory(author=zoe)
    prepare = comment_services.notifications_prepare

    def to_nobody(**kwargs: Any) -> list[Notification]:
        notifications = prepare(**kwargs)
        for notification in notifications:
            notification.recipient_id = uuid.uuid4()  # no such user: the INSERT fails
        return notifications

    monkeypatch.setattr(comment_services, "notifications_prepare", to_nobody)
    loaded = selectors.post_for_comments(actor=siobhan, post_id=post.pk)

    with pytest.raises(IntegrityError):
        comment_create(actor=siobhan, post=loaded, body="Nie gespeichert")

    post.refresh_from_db()
    assert not Comment.objects.filter(post=post).exists()
    assert post.comment_count == 0
    assert not AuditRecord.objects.filter(action="comment.created").exists()
    assert not Notification.objects.exists()
