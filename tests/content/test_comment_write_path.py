"""What one new comment costs: queries and Redis round trips, asserted (issue 12's write path).

A comment is one query to find the post (and the parent, for a reply), one batch of
statements (the comment, the post's count, the audit record, the notification: one query on
PostgreSQL), and after the commit: the audit seal, one cache script, and two events (the post
room's, the notification's), each with one cache read for the webhooks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis.connection
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from audits.chain import GENESIS_HASH
from audits.models import AuditChainHead, AuditRecord
from content import selectors
from content.models import LIVE, Comment, Post, PostStatus
from content.selectors.visibility import post_visibility
from content.services import comment_create
from realtime.models import Notification
from tasks.services.webhooks import webhook_subscribed_events
from tests.content.factories import CommentFactory, PostFactory
from tests.factories import AdminFactory, GuestFactory, UserFactory
from tests.realtime.notifications import client_for

pytestmark = pytest.mark.django_db(transaction=True)

# After the commit, on PostgreSQL: the seal (lock and head, the records, their write, the
# check for more). On SQLite the seal reads and writes the head by itself: one more.
SEAL_QUERIES = {"postgresql": 4, "sqlite": 5}


@pytest.fixture(autouse=True)
def running_site() -> None:
    """As on any running site: the chain has its head, the webhooks' cache entry is made."""
    AuditChainHead.objects.create(pk=1, sequence=0, hash=GENESIS_HASH)
    webhook_subscribed_events()


def comments_url(post: Any) -> str:
    return f"/api/v1/posts/{post.pk}/comments"


def app_queries(captured: CaptureQueriesContext) -> list[str]:
    """The statements of the comment's work: authentication's and transaction control left
    out (the request path's own business, and no statement of the write)."""
    return [
        query["sql"]
        for query in captured.captured_queries
        if '"accounts_' not in query["sql"].split(" WHERE ")[0]
        and not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT"))
    ]


@contextmanager
def redis_round_trips() -> Iterator[Counter[str]]:
    """Every command (or pipeline) this process sends to Redis, by its first word."""
    sent: Counter[str] = Counter()
    original = redis.connection.Connection.send_packed_command

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        first = command[0] if isinstance(command, list) else command
        sent[bytes(first).split(b"\r\n")[2].decode().upper()] += 1
        return original(self, command, check_health)

    redis.connection.Connection.send_packed_command = counting
    try:
        yield sent
    finally:
        redis.connection.Connection.send_packed_command = original


def test_a_comment_costs_one_lookup_one_batch_and_the_seal() -> None:
    zoe, lei = UserFactory(), UserFactory()
    post = PostFactory(author=zoe)
    client = client_for(lei)

    with CaptureQueriesContext(connection) as captured:
        response = client.post(comments_url(post), {"body": "Erster!"}, format="json")

    assert response.status_code == 201
    statements = app_queries(captured)
    assert "FROM content_post p WHERE p.id = " in statements[0]
    batch = [
        ["INSERT", "INTO", '"content_comment"'],
        ["UPDATE", '"content_post"', "SET"],
        ["INSERT", "INTO", '"audits_auditrecord"'],
        ["INSERT", "INTO", '"realtime_notification"'],
    ]
    if connection.vendor == "postgresql":
        # One query, so one round trip and one transaction of its own (no BEGIN, no COMMIT).
        written = [sql.split(" ")[0:3] for sql in statements[1].split(";\n")]
        sent = [query["sql"] for query in captured.captured_queries]
        at = sent.index(statements[1])
        assert (sent[at - 1], sent[at + 1]) != ("BEGIN", "COMMIT")
        assert "BEGIN" not in sent[:at]
        after = statements[2:]
    else:
        written = [sql.split(" ")[0:3] for sql in statements[1:5]]
        after = statements[5:]
    assert written == batch
    assert len(after) == SEAL_QUERIES[connection.vendor]
    assert AuditRecord.objects.get(action="comment.created").sequence is not None
    assert Notification.objects.filter(recipient=zoe).count() == 1


def test_a_reply_costs_no_query_more_than_a_comment() -> None:
    zoe, lei = UserFactory(), UserFactory()
    post = PostFactory(author=zoe)
    parent = CommentFactory(post=post, author=zoe)
    client = client_for(lei)

    counts = []
    for extra in ({}, {"parent": str(parent.pk)}):
        with CaptureQueriesContext(connection) as captured:
            response = client.post(comments_url(post), {"body": "Ja", **extra}, format="json")
        assert response.status_code == 201
        counts.append(len(app_queries(captured)))

    assert counts[0] == counts[1]
    assert Comment.objects.get(parent=parent).author == lei


def test_post_and_parent_come_from_one_query(django_assert_num_queries: Any) -> None:
    lei = UserFactory()
    post = PostFactory()
    parent = CommentFactory(post=post)
    elsewhere = CommentFactory()
    gone = CommentFactory(post=post, deleted=True)

    with django_assert_num_queries(1):
        found = selectors.post_for_comment_create(actor=lei, post_id=post.pk, parent_id=parent.pk)
    assert found is not None
    assert found[0].pk == post.pk
    assert (found[1].pk, found[1].post_id, found[1].author_id) == (
        parent.pk,
        post.pk,
        parent.author_id,
    )
    for other in (elsewhere, gone):
        with django_assert_num_queries(1):
            found = selectors.post_for_comment_create(
                actor=lei, post_id=post.pk, parent_id=other.pk
            )
        assert found is not None
        assert found[1] is None
    assert selectors.post_for_comment_create(actor=lei, post_id="nope") is None


@pytest.mark.parametrize("status", list(PostStatus))
@pytest.mark.parametrize("deleted", [False, True])
def test_the_lookup_finds_exactly_the_posts_the_visibility_rule_lets_one_read(
    status: str, deleted: bool
) -> None:
    """`post_readable` (the lookup's rule) against `post_visibility` (every list's)."""
    author = UserFactory()
    post = PostFactory(author=author, status=status, deleted=deleted)
    actors = [AnonymousUser(), author, UserFactory(), GuestFactory(), AdminFactory()]

    for actor in actors:
        readable = Post.objects.filter(LIVE, post_visibility(actor), pk=post.pk).exists()
        found = selectors.post_for_comment_create(actor=actor, post_id=post.pk)
        assert (found is not None) == readable, (actor, status, deleted)


def test_the_post_found_has_its_other_fields_deferred() -> None:
    post = PostFactory(body="Lang und breit")

    found = selectors.post_for_comment_create(actor=UserFactory(), post_id=str(post.pk))

    assert found is not None
    assert (found[0].pk, found[0].status, found[0].author_id, found[0].title) == (
        post.pk,
        post.status,
        post.author_id,
        post.title,
    )
    assert found[0].get_deferred_fields() >= {"body", "comment_count"}
    assert found[0].body == "Lang und breit"


def test_an_unknown_post_is_a_404_before_a_bad_body_is_a_400() -> None:
    client = client_for(UserFactory())
    post = PostFactory()

    unknown = client.post(
        "/api/v1/posts/01900000-0000-7000-8000-000000000000/comments", {"body": ""}, format="json"
    )
    bad = client.post(comments_url(post), {"body": ""}, format="json")

    assert unknown.status_code == 404
    assert bad.status_code == 400
    assert "body" in bad.json()["error"]["details"]


@pytest.mark.redis
def test_redis_round_trips_of_a_comment() -> None:
    zoe, lei = UserFactory(), UserFactory()
    post = selectors.post_for_comments(actor=lei, post_id=PostFactory(author=zoe).pk)
    comment_create(actor=lei, post=post, body="Null")  # a fresh Redis loads the scripts first

    with redis_round_trips() as sent:
        comment_create(actor=lei, post=post, body="Eins")

    # The cache script (the post's count version, the feed's), then per event (the post
    # room's, the notification's): its append-and-publish script and the webhooks' read.
    assert sent == Counter({"EVALSHA": 3, "MGET": 2})


@pytest.mark.redis
def test_a_comment_by_the_posts_author_sends_no_notification_round_trips() -> None:
    zoe = UserFactory()
    post = selectors.post_for_comments(actor=zoe, post_id=PostFactory(author=zoe).pk)
    comment_create(actor=zoe, post=post, body="Null")

    with redis_round_trips() as sent:
        comment_create(actor=zoe, post=post, body="Selbst")

    assert sent == Counter({"EVALSHA": 2, "MGET": 1})


def test_the_api_answer_is_unchanged(author: Any, author_client: APIClient) -> None:
    post = PostFactory()
    parent = CommentFactory(post=post)

    body = author_client.post(
        comments_url(post), {"body": "Antwort", "parent": str(parent.pk)}, format="json"
    ).json()

    comment = Comment.objects.get(pk=body["id"])
    assert body == {
        "id": str(comment.pk),
        "post": str(post.pk),
        "parent": str(parent.pk),
        "body": "Antwort",
        "author": {
            "id": str(author.pk),
            "username": author.username,
            "display_name": author.display_name,
        },
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
