"""Bulk create, update and delete: all or nothing, per-item errors by index, 500 at most."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from content.models import Post, PostStatus
from tests.content.factories import PostFactory

pytestmark = pytest.mark.django_db

BULK = "/api/v1/posts/bulk"
BULK_DELETE = "/api/v1/posts/bulk-delete"


def test_bulk_create_returns_every_post_in_order(author: Any, author_client: APIClient) -> None:
    items = [
        {"title": "Eins", "status": "published", "tags": ["a"]},
        {"title": "Zwei"},
        {"title": "李雷", "body": "🚀", "tags": ["b", "a"]},
    ]

    response = author_client.post(BULK, {"items": items}, format="json")

    assert response.status_code == 201, response.json()
    results = response.json()["results"]
    assert [r["title"] for r in results] == ["Eins", "Zwei", "李雷"]
    assert results[2]["tags"] == ["a", "b"]
    assert Post.objects.filter(author=author).count() == 3


def test_one_bad_item_writes_nothing_and_names_its_index(author_client: APIClient) -> None:
    items = [{"title": "good"}, {"title": ""}, {"title": "ok", "status": "bogus"}]

    response = author_client.post(BULK, {"items": items}, format="json")

    assert response.status_code == 400
    details = response.json()["error"]["details"]["items"]
    assert set(details) == {"1", "2"}
    assert "title" in details["1"]
    assert "status" in details["2"]
    assert not Post.objects.exists()


def test_more_than_500_items_are_refused(author_client: APIClient) -> None:
    response = author_client.post(BULK, {"items": [{"title": "x"}] * 501}, format="json")

    assert response.status_code == 400
    assert not Post.objects.exists()


@pytest.mark.parametrize("body", [{"items": []}, {"items": "nope"}, {}, [1, 2]])
def test_malformed_bulk_bodies_are_400(author_client: APIClient, body: Any) -> None:
    assert author_client.post(BULK, body, format="json").status_code == 400


def test_bulk_update_is_all_or_nothing_over_others_posts(
    author: Any, author_client: APIClient
) -> None:
    mine = PostFactory(author=author, title="Mine")
    theirs = PostFactory(title="Theirs")
    items = [{"id": str(mine.pk), "title": "Changed"}, {"id": str(theirs.pk), "title": "Stolen"}]

    response = author_client.patch(BULK, {"items": items}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"]["items"] == {"1": {"id": ["Not found."]}}
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.title, theirs.title) == ("Mine", "Theirs")


def test_bulk_update_changes_every_item(author: Any, author_client: APIClient) -> None:
    posts = [PostFactory(author=author, status=PostStatus.DRAFT) for _ in range(3)]
    items = [{"id": str(p.pk), "status": "published"} for p in posts]

    response = author_client.patch(BULK, {"items": items}, format="json")

    assert response.status_code == 200, response.json()
    assert [r["id"] for r in response.json()["results"]] == [str(p.pk) for p in posts]
    assert Post.objects.filter(status=PostStatus.PUBLISHED, published_at__isnull=False).count() == 3


def test_bulk_update_item_needs_an_id(author_client: APIClient) -> None:
    response = author_client.patch(BULK, {"items": [{"title": "x"}]}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"]["items"]["0"] == {"id": ["This field is required."]}


def test_bulk_delete(author: Any, author_client: APIClient) -> None:
    posts = [PostFactory(author=author) for _ in range(2)]

    response = author_client.post(BULK_DELETE, {"ids": [str(p.pk) for p in posts]}, format="json")

    assert response.status_code == 200
    assert response.json() == {"deleted": 2}
    assert Post.objects.filter(deleted_at__isnull=True).count() == 0


def test_bulk_delete_refuses_invisible_posts_and_deletes_nothing(
    author: Any, author_client: APIClient
) -> None:
    mine = PostFactory(author=author)
    drafts_of_others = PostFactory(status=PostStatus.DRAFT)

    response = author_client.post(
        BULK_DELETE, {"ids": [str(mine.pk), str(drafts_of_others.pk)]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"]["items"] == {"1": {"id": ["Not found."]}}
    assert Post.objects.filter(deleted_at__isnull=True).count() == 2


def test_guest_cannot_bulk_create(guest_client: APIClient) -> None:
    response = guest_client.post(BULK, {"items": [{"title": "x"}]}, format="json")

    assert response.status_code == 403
