"""Every content write leaves exactly one audit record, committed or rolled back with it."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from audits.models import AuditRecord
from tests.content.factories import CommentFactory, PostFactory

pytestmark = pytest.mark.django_db

HEADERS = {"HTTP_X_REQUEST_ID": "req-audit-42", "HTTP_USER_AGENT": "Agora-Test/1.0 (Müller)"}


def only_record(action: str) -> AuditRecord:
    records = list(AuditRecord.objects.filter(action=action))
    assert len(records) == 1, [r.action for r in AuditRecord.objects.all()]
    return records[0]


def test_post_create_is_audited_with_its_request(author: Any, author_client: APIClient) -> None:
    response = author_client.post(
        "/api/v1/posts", {"title": "Audited", "tags": ["x"]}, format="json", **HEADERS
    )

    record = only_record("post.created")
    assert record.target_type == "post"
    assert record.target_id == response.json()["id"]
    assert record.actor_id == author.pk
    assert record.request_id == "req-audit-42"
    assert record.user_agent == "Agora-Test/1.0 (Müller)"
    assert record.ip == "127.0.0.1"
    assert record.changes["title"] == [None, "Audited"]
    assert record.changes["tags"] == [None, ["x"]]


def test_post_update_records_only_changed_fields(author: Any, author_client: APIClient) -> None:
    post = PostFactory(author=author, title="Alt", body="same")

    author_client.patch(f"/api/v1/posts/{post.pk}", {"title": "Neu", "body": "same"}, format="json")

    assert only_record("post.updated").changes == {"title": ["Alt", "Neu"]}


def test_post_delete_and_restore_are_audited(author: Any, author_client: APIClient) -> None:
    post = PostFactory(author=author)

    author_client.delete(f"/api/v1/posts/{post.pk}")
    author_client.post(f"/api/v1/posts/{post.pk}/restore")

    assert only_record("post.deleted").target_id == str(post.pk)
    assert only_record("post.restored").actor_id == author.pk


def test_comment_writes_are_audited(author: Any, author_client: APIClient) -> None:
    post = PostFactory()
    created = author_client.post(
        f"/api/v1/posts/{post.pk}/comments", {"body": "eins"}, format="json"
    ).json()
    url = f"/api/v1/comments/{created['id']}"

    author_client.patch(url, {"body": "zwei"}, format="json")
    author_client.delete(url)
    author_client.post(f"{url}/restore")

    assert only_record("comment.created").changes["body"] == [None, "eins"]
    assert only_record("comment.updated").changes == {"body": ["eins", "zwei"]}
    assert only_record("comment.deleted").target_id == created["id"]
    assert only_record("comment.restored").target_id == created["id"]


def test_each_bulk_item_gets_its_own_record(author: Any, author_client: APIClient) -> None:
    items = [{"title": f"Bulk {i}"} for i in range(3)]
    created = author_client.post("/api/v1/posts/bulk", {"items": items}, format="json").json()
    ids = [p["id"] for p in created["results"]]

    author_client.patch(
        "/api/v1/posts/bulk", {"items": [{"id": i, "body": "b"} for i in ids]}, format="json"
    )
    author_client.post("/api/v1/posts/bulk-delete", {"ids": ids}, format="json")

    for action in ("post.created", "post.updated", "post.deleted"):
        records = AuditRecord.objects.filter(action=action)
        assert sorted(r.target_id for r in records) == sorted(ids)


def test_refused_and_failed_writes_leave_no_record(
    author_client: APIClient, other_client: APIClient
) -> None:
    comment = CommentFactory()

    other_client.delete(f"/api/v1/comments/{comment.pk}")
    author_client.post(
        "/api/v1/posts/bulk", {"items": [{"title": "ok"}, {"title": ""}]}, format="json"
    )

    assert not AuditRecord.objects.exists()
