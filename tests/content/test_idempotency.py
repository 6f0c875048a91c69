"""`Idempotency-Key` on the content POSTs: a retry returns the first answer, writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from audits.models import AuditRecord
from content.models import Comment, Post
from tests.content.factories import PostFactory

pytestmark = pytest.mark.django_db(transaction=True)


def post_with_key(client: APIClient, url: str, body: Any, key: str) -> Any:
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_retried_post_create_returns_the_first_post(author_client: APIClient) -> None:
    first = post_with_key(author_client, "/api/v1/posts", {"title": "Einmal"}, "create-1")
    again = post_with_key(author_client, "/api/v1/posts", {"title": "Einmal"}, "create-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Post.objects.count() == 1
    assert AuditRecord.objects.filter(action="post.created").count() == 1


def test_same_key_with_another_body_is_a_conflict(author_client: APIClient) -> None:
    post_with_key(author_client, "/api/v1/posts", {"title": "Eins"}, "create-2")

    clash = post_with_key(author_client, "/api/v1/posts", {"title": "Zwei"}, "create-2")

    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "conflict"
    assert list(Post.objects.values_list("title", flat=True)) == ["Eins"]


def test_retried_comment_and_bulk_writes_write_once(author_client: APIClient) -> None:
    post = PostFactory()
    url = f"/api/v1/posts/{post.pk}/comments"
    bulk = {"items": [{"title": "a"}, {"title": "b"}]}

    for _ in range(2):
        post_with_key(author_client, url, {"body": "Hallo"}, "comment-1")
        post_with_key(author_client, "/api/v1/posts/bulk", bulk, "bulk-1")

    assert Comment.objects.count() == 1
    assert Post.objects.count() == 3


def test_a_refused_request_can_be_retried_with_its_key(author_client: APIClient) -> None:
    bad = post_with_key(author_client, "/api/v1/posts", {"title": ""}, "create-3")
    assert bad.status_code == 400

    good = post_with_key(author_client, "/api/v1/posts", {"title": ""}, "create-3")

    assert good.status_code == 400
    assert "Idempotent-Replayed" not in good
