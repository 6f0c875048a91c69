"""Comments: on a post, threaded replies, edits by owner or admin, soft delete and restore."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from content.models import Comment, PostStatus
from tests.content.factories import CommentFactory, PostFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/comments"


def post_comments_url(post: Any) -> str:
    return f"/api/v1/posts/{post.pk}/comments"


def test_member_comments_on_a_published_post(author: Any, author_client: APIClient) -> None:
    post = PostFactory()

    response = author_client.post(post_comments_url(post), {"body": "Schön! 👍"}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"id", "post", "parent", "body", "author", "created_at", "updated_at"}
    assert body["post"] == str(post.pk)
    assert body["parent"] is None
    assert body["author"]["id"] == str(author.pk)


def test_reply_to_a_comment(author_client: APIClient, api_client: APIClient) -> None:
    post = PostFactory()
    parent = CommentFactory(post=post)

    reply = author_client.post(
        post_comments_url(post), {"body": "Reply", "parent": str(parent.pk)}, format="json"
    )

    assert reply.status_code == 201
    assert reply.json()["parent"] == str(parent.pk)
    replies = api_client.get(post_comments_url(post), {"parent": str(parent.pk)}).json()
    assert [c["id"] for c in replies["results"]] == [reply.json()["id"]]


@pytest.mark.parametrize("parent_kind", ["other_post", "deleted", "unknown"])
def test_reply_parent_must_be_a_live_comment_on_the_same_post(
    author_client: APIClient, parent_kind: str
) -> None:
    post = PostFactory()
    parent_id = {
        "other_post": lambda: CommentFactory().pk,
        "deleted": lambda: CommentFactory(post=post, deleted=True).pk,
        "unknown": lambda: "0193a000-0000-7000-8000-000000000000",
    }[parent_kind]()

    response = author_client.post(
        post_comments_url(post), {"body": "x", "parent": str(parent_id)}, format="json"
    )

    assert response.status_code == 400
    assert "parent" in response.json()["error"]["details"]
    assert not Comment.objects.filter(body="x").exists()


def test_archived_posts_take_no_new_comments(author_client: APIClient) -> None:
    post = PostFactory(status=PostStatus.ARCHIVED)

    response = author_client.post(post_comments_url(post), {"body": "late"}, format="json")

    assert response.status_code == 403
    assert not Comment.objects.exists()


def test_guest_and_anonymous_cannot_comment(guest_client: APIClient, api_client: APIClient) -> None:
    post = PostFactory()

    assert (
        guest_client.post(post_comments_url(post), {"body": "x"}, format="json").json()["error"][
            "code"
        ]
        == "email_not_verified"
    )
    assert api_client.post(post_comments_url(post), {"body": "x"}, format="json").status_code == 401


@pytest.mark.parametrize("body", ["", "nul\u0000", "x" * 10_001])
def test_bad_comment_bodies_are_refused(author_client: APIClient, body: str) -> None:
    post = PostFactory()

    response = author_client.post(post_comments_url(post), {"body": body}, format="json")

    assert response.status_code == 400
    assert "body" in response.json()["error"]["details"]


def test_comments_of_hidden_posts_are_hidden_everywhere(api_client: APIClient) -> None:
    visible = CommentFactory()
    CommentFactory(post=PostFactory(status=PostStatus.DRAFT))
    CommentFactory(post=PostFactory(deleted=True))
    CommentFactory(deleted=True)

    listed = api_client.get(URL).json()

    assert [c["id"] for c in listed["results"]] == [str(visible.pk)]
    assert listed["count"] == 1


def test_comments_list_filters(api_client: APIClient) -> None:
    post = PostFactory()
    root = CommentFactory(post=post)
    reply = CommentFactory(parent=root)
    CommentFactory()

    by_post = api_client.get(URL, {"post": str(post.pk), "ordering": "created_at"}).json()
    by_author = api_client.get(URL, {"author": str(reply.author_id)}).json()
    by_parent = api_client.get(URL, {"parent": str(root.pk)}).json()

    assert [c["id"] for c in by_post["results"]] == [str(root.pk), str(reply.pk)]
    assert [c["id"] for c in by_author["results"]] == [str(reply.pk)]
    assert [c["id"] for c in by_parent["results"]] == [str(reply.pk)]
    assert api_client.get(URL, {"post": "nope"}).status_code == 400


def test_owner_edits_and_others_may_not(
    author: Any, author_client: APIClient, other_client: APIClient, admin_client: APIClient
) -> None:
    comment = CommentFactory(author=author)

    assert (
        author_client.patch(f"{URL}/{comment.pk}", {"body": "edited"}, format="json").json()["body"]
        == "edited"
    )
    assert (
        other_client.patch(f"{URL}/{comment.pk}", {"body": "no"}, format="json").status_code == 403
    )
    assert (
        admin_client.put(f"{URL}/{comment.pk}", {"body": "moderated"}, format="json").status_code
        == 200
    )
    comment.refresh_from_db()
    assert comment.body == "moderated"


def test_delete_and_restore_a_comment(
    author: Any, author_client: APIClient, api_client: APIClient
) -> None:
    comment = CommentFactory(author=author)

    assert author_client.delete(f"{URL}/{comment.pk}").status_code == 204
    assert api_client.get(f"{URL}/{comment.pk}").status_code == 404
    assert author_client.post(f"{URL}/{comment.pk}/restore").status_code == 200
    assert api_client.get(f"{URL}/{comment.pk}").status_code == 200
    comment.post.refresh_from_db()
    assert comment.post.comment_count == 1


def test_others_cannot_restore_a_comment(other_client: APIClient) -> None:
    comment = CommentFactory(deleted=True)

    assert other_client.post(f"{URL}/{comment.pk}/restore").status_code == 404


def test_comment_list_query_count_does_not_grow_with_page_size(
    api_client: APIClient, django_assert_num_queries: Any
) -> None:
    post = PostFactory()
    for _ in range(12):
        CommentFactory(post=post)

    for limit in (2, 10):
        # count, page
        with django_assert_num_queries(2):
            response = api_client.get(URL, {"limit": limit})
        assert len(response.json()["results"]) == limit
        # post lookup, count, page
        with django_assert_num_queries(3):
            response = api_client.get(post_comments_url(post), {"limit": limit})
        assert len(response.json()["results"]) == limit
        assert response.json()["count"] == 12


@pytest.mark.parametrize("value", ["AAA", "null", "yes"])
def test_a_malformed_top_level_filter_is_a_400_not_ignored(
    api_client: APIClient, value: str
) -> None:
    response = api_client.get(URL, {"top_level": value})

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"top_level": ["Must be `true` or `false`."]}


def test_top_level_filter_keeps_or_drops_the_replies(api_client: APIClient) -> None:
    root = CommentFactory()
    reply = CommentFactory(parent=root)

    top = api_client.get(URL, {"top_level": "true"}).json()["results"]
    replies = api_client.get(URL, {"top_level": "false"}).json()["results"]

    assert [c["id"] for c in top] == [str(root.pk)]
    assert [c["id"] for c in replies] == [str(reply.pk)]
