"""Posts through the API: visibility per role, CRUD, soft delete and restore, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from content.models import Post, PostStatus
from tests.content.factories import CommentFactory, PostFactory, feed_with_drafts

pytestmark = pytest.mark.django_db

URL = "/api/v1/posts"


def ids(response: Any) -> set[str]:
    return {item["id"] for item in response.json()["results"]}


def test_anonymous_list_shows_published_and_archived_posts_only(api_client: APIClient) -> None:
    published = PostFactory()
    archived = PostFactory(status=PostStatus.ARCHIVED)
    PostFactory(status=PostStatus.DRAFT)
    PostFactory(deleted=True)

    response = api_client.get(URL)

    assert response.status_code == 200
    assert ids(response) == {str(published.pk), str(archived.pk)}
    assert response.json()["count"] == 2


def test_member_sees_own_drafts_but_not_other_drafts(author: Any, author_client: APIClient) -> None:
    mine = PostFactory(author=author, status=PostStatus.DRAFT)
    theirs = PostFactory(status=PostStatus.DRAFT)

    listed = author_client.get(URL)

    assert ids(listed) == {str(mine.pk)}
    assert listed.json()["count"] == 1
    assert author_client.get(f"{URL}/{mine.pk}").status_code == 200
    assert author_client.get(f"{URL}/{theirs.pk}").json()["error"]["code"] == "not_found"


def test_admin_sees_every_draft(admin_client: APIClient) -> None:
    drafts = {str(PostFactory(status=PostStatus.DRAFT).pk) for _ in range(2)}

    assert ids(admin_client.get(URL)) == drafts


def test_post_shape_matches_the_contract(api_client: APIClient) -> None:
    post = PostFactory(tags=["Python", "köln"])

    body = api_client.get(f"{URL}/{post.pk}/").json()

    assert set(body) == {
        "id", "title", "body", "status", "tags", "attachments", "author", "comment_count",
        "created_at", "updated_at", "published_at",
    }  # fmt: skip
    assert body["tags"] == ["köln", "python"]
    assert set(body["author"]) == {"id", "username", "display_name"}
    assert body["created_at"].endswith("Z")


def test_create_takes_the_author_from_the_caller(author: Any, author_client: APIClient) -> None:
    other = PostFactory().author
    response = author_client.post(
        URL,
        {
            "title": "Grüße aus Köln — O'Brien's 李雷 🚀",
            "body": "Line one\r\n\tindented",
            "status": "published",
            "tags": ["Travel", "travel", "köln"],
            "author": str(other.pk),
            "comment_count": 99,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["author"]["id"] == str(author.pk)
    assert body["title"] == "Grüße aus Köln — O'Brien's 李雷 🚀"
    assert body["body"] == "Line one\r\n\tindented"
    assert body["tags"] == ["köln", "travel"]
    assert body["comment_count"] == 0
    assert body["published_at"] is not None


def test_a_new_post_is_a_draft_by_default(author_client: APIClient) -> None:
    body = author_client.post(URL, {"title": "Entwurf"}, format="json").json()

    assert body["status"] == "draft"
    assert body["published_at"] is None


def test_guest_cannot_write(guest_client: APIClient) -> None:
    response = guest_client.post(URL, {"title": "Hello"}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "email_not_verified"
    assert not Post.objects.exists()


def test_anonymous_cannot_write(api_client: APIClient) -> None:
    response = api_client.post(URL, {"title": "Hello"}, format="json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "nul \u0000 byte"}, "title"),
        ({"title": "x" * 1_000_000}, "title"),
        ({"title": "   "}, "title"),
        ({}, "title"),
        ({"title": "ok", "status": "deleted"}, "status"),
        ({"title": "ok", "tags": "not-a-list"}, "tags"),
        ({"title": "ok", "tags": [f"t{i}" for i in range(11)]}, "tags"),
        ({"title": "ok", "tags": ["semi;colon"]}, "tags"),
        ({"title": "ok", "body": "bell \u0007"}, "body"),
    ],
)
def test_bad_fields_are_refused_and_nothing_is_stored(
    author_client: APIClient, payload: dict[str, Any], field: str
) -> None:
    response = author_client.post(URL, payload, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["details"]
    assert not Post.objects.exists()


def test_malformed_json_is_a_400(author_client: APIClient) -> None:
    response = author_client.post(URL, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_author_edits_own_post(author: Any, author_client: APIClient) -> None:
    post = PostFactory(author=author, status=PostStatus.DRAFT)

    response = author_client.patch(
        f"{URL}/{post.pk}", {"status": "published", "tags": ["neu"]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "published"
    assert response.json()["tags"] == ["neu"]
    post.refresh_from_db()
    assert post.published_at is not None


def test_put_needs_every_required_field(author: Any, author_client: APIClient) -> None:
    post = PostFactory(author=author)

    response = author_client.put(f"{URL}/{post.pk}", {"body": "only body"}, format="json")

    assert response.status_code == 400
    assert "title" in response.json()["error"]["details"]


def test_editing_someone_elses_published_post_is_forbidden(other_client: APIClient) -> None:
    post = PostFactory(title="Original")

    response = other_client.patch(f"{URL}/{post.pk}", {"title": "Hijacked"}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    post.refresh_from_db()
    assert post.title == "Original"


def test_someone_elses_draft_is_not_found_for_every_method(other_client: APIClient) -> None:
    post = PostFactory(status=PostStatus.DRAFT)

    assert other_client.patch(f"{URL}/{post.pk}", {"title": "x"}, format="json").status_code == 404
    assert other_client.delete(f"{URL}/{post.pk}").status_code == 404
    assert (
        other_client.post(f"{URL}/{post.pk}/comments", {"body": "x"}, format="json").status_code
        == 404
    )
    assert Post.objects.get(pk=post.pk).deleted_at is None


def test_admin_edits_anyones_post(admin_client: APIClient) -> None:
    post = PostFactory()

    response = admin_client.patch(f"{URL}/{post.pk}", {"status": "archived"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "archived"


@pytest.mark.django_db(transaction=True)
def test_delete_is_soft_and_restore_brings_the_post_back(
    author: Any, author_client: APIClient, api_client: APIClient, admin_client: APIClient
) -> None:
    post = PostFactory(author=author)

    assert author_client.delete(f"{URL}/{post.pk}/").status_code == 204
    assert Post.objects.filter(pk=post.pk).exists()
    assert author_client.get(f"{URL}/{post.pk}").status_code == 404
    assert api_client.get(f"{URL}/{post.pk}").status_code == 404
    assert admin_client.get(f"{URL}/{post.pk}").status_code == 200
    assert ids(api_client.get(URL)) == set()

    restored = author_client.post(f"{URL}/{post.pk}/restore")

    assert restored.status_code == 200
    assert ids(api_client.get(URL)) == {str(post.pk)}


def test_only_owner_or_admin_may_restore(other_client: APIClient, admin_client: APIClient) -> None:
    post = PostFactory(deleted=True)

    assert other_client.post(f"{URL}/{post.pk}/restore").status_code == 404
    assert admin_client.post(f"{URL}/{post.pk}/restore").status_code == 200


def test_unknown_and_malformed_ids_are_not_found(api_client: APIClient) -> None:
    assert api_client.get(f"{URL}/not-a-uuid").status_code == 404
    assert api_client.get(f"{URL}/0193a000-0000-7000-8000-000000000000").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_comment_count_follows_comment_writes(
    author_client: APIClient, api_client: APIClient
) -> None:
    post = PostFactory()
    CommentFactory(post=post)
    created = author_client.post(f"{URL}/{post.pk}/comments", {"body": "Zwei"}, format="json")

    assert api_client.get(f"{URL}/{post.pk}").json()["comment_count"] == 2

    author_client.delete(f"/api/v1/comments/{created.json()['id']}")

    assert api_client.get(f"{URL}/{post.pk}").json()["comment_count"] == 1


def test_list_query_count_does_not_grow_with_page_size(
    api_client: APIClient, django_assert_num_queries: Any
) -> None:
    for _ in range(12):
        CommentFactory(post=PostFactory(tags=["a", "b"]))

    for limit in (2, 10):
        # count, page, tags, attachments
        with django_assert_num_queries(4):
            response = api_client.get(URL, {"limit": limit, "status": "published"})
        assert len(response.json()["results"]) == limit


def test_authenticated_list_query_count_does_not_grow_with_page_size(
    author: Any, author_client: APIClient, django_assert_num_queries: Any
) -> None:
    for _ in range(12):
        PostFactory(tags=["a"])

    for limit in (2, 10):
        # user with session, public count and own drafts (both cached after the first), page,
        # tags, attachments
        with django_assert_num_queries(6 if limit == 2 else 4):
            response = author_client.get(URL, {"limit": limit})
        assert len(response.json()["results"]) == limit


@pytest.mark.parametrize("newer_drafts", [0, 2, 25])
@pytest.mark.parametrize("query", ["", "limit=20", "offset=0&limit=20"])
def test_a_members_default_first_page_with_drafts_is_the_page_django_computes(
    monkeypatch: pytest.MonkeyPatch, newer_drafts: int, query: str
) -> None:
    from content.views import posts as views
    from tests.factories import UserFactory

    member = UserFactory()
    feed_with_drafts(member, newer_drafts=newer_drafts)
    client = APIClient()
    client.force_authenticate(member)
    APIClient().get(URL)  # the shared page, cached

    merged = client.get(f"{URL}?{query}")
    monkeypatch.setattr(views, "is_default_first_page", lambda request, limit: False)
    computed = client.get(f"{URL}?{query}")

    assert merged.status_code == computed.status_code == 200
    assert merged.content == computed.content
    assert merged.json()["count"] == 22 + newer_drafts + 3


@pytest.mark.parametrize(("newer_drafts", "queries"), [(0, 1), (2, 3)])
def test_a_members_first_page_reads_only_their_newer_drafts(
    django_assert_num_queries: Any, newer_drafts: int, queries: int
) -> None:
    from tests.factories import UserFactory

    member = UserFactory()
    feed_with_drafts(member, newer_drafts=newer_drafts)
    client = APIClient()
    client.force_authenticate(member)
    client.get(URL)

    # The drafts newer than the shared page's last post (then their tags and attachments);
    # the shared page and both counts come from the cache.
    with django_assert_num_queries(queries):
        page = client.get(URL).json()
    assert [item["status"] for item in page["results"]].count("draft") == newer_drafts
