"""Cache-aside for hot reads: hits, invalidation by every kind of write, and outages."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from content.models import PostStatus
from tests.content.factories import PostFactory

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/posts"


def detail(client: APIClient, post: Any) -> Any:
    return client.get(f"{URL}/{post.pk}")


def test_public_detail_is_served_from_the_cache_after_the_first_read(
    api_client: APIClient, django_assert_num_queries: Any
) -> None:
    post = PostFactory()

    assert detail(api_client, post)["X-Cache"] == "miss"
    with django_assert_num_queries(0):
        second = detail(api_client, post)

    assert second["X-Cache"] == "hit"
    assert second.json()["id"] == str(post.pk)


def test_drafts_are_never_cached(author: Any, author_client: APIClient) -> None:
    post = PostFactory(author=author, status=PostStatus.DRAFT)

    detail(author_client, post)

    assert "X-Cache" not in detail(author_client, post)


@pytest.mark.parametrize(
    ("write", "check"),
    [
        (lambda c, p: c.patch(f"{URL}/{p.pk}", {"title": "Neu"}, format="json"), "title"),
        (lambda c, p: c.post(f"{URL}/{p.pk}/comments", {"body": "x"}, format="json"), "count"),
        (lambda c, p: c.delete(f"{URL}/{p.pk}"), "gone"),
        (lambda c, p: c.patch(f"{URL}/{p.pk}", {"status": "draft"}, format="json"), "gone"),
    ],
    ids=["update", "comment", "delete", "unpublish"],
)
def test_writes_invalidate_the_detail(
    author: Any, author_client: APIClient, api_client: APIClient, write: Any, check: str
) -> None:
    post = PostFactory(author=author, title="Alt")
    detail(api_client, post)

    assert write(author_client, post).status_code in (200, 201, 204)

    after = detail(api_client, post)
    if check == "title":
        assert after.json()["title"] == "Neu"
    elif check == "count":
        assert after.json()["comment_count"] == 1
    else:
        assert after.status_code == 404


def test_restore_invalidates_the_detail(
    author: Any, author_client: APIClient, api_client: APIClient
) -> None:
    post = PostFactory(author=author, deleted=True)
    assert detail(api_client, post).status_code == 404

    author_client.post(f"{URL}/{post.pk}/restore")

    assert detail(api_client, post).status_code == 200


def test_feed_first_page_is_cached_and_moves_on_new_posts(
    author_client: APIClient, api_client: APIClient
) -> None:
    old = PostFactory()
    assert api_client.get(URL)["X-Cache"] == "miss"
    assert api_client.get(URL)["X-Cache"] == "hit"

    created = author_client.post(URL, {"title": "Frisch", "status": "published"}, format="json")

    page = api_client.get(URL)
    assert page["X-Cache"] == "miss"
    assert [p["id"] for p in page.json()["results"]] == [created.json()["id"], str(old.pk)]
    assert page.json()["count"] == 2


def test_feed_drops_a_post_deleted_by_admin(admin_client: APIClient, api_client: APIClient) -> None:
    post = PostFactory()
    api_client.get(URL)

    admin_client.delete(f"{URL}/{post.pk}")

    assert api_client.get(URL).json()["results"] == []


def test_comment_on_a_post_in_the_feed_refreshes_its_count(
    author_client: APIClient, api_client: APIClient
) -> None:
    post = PostFactory()
    api_client.get(URL)

    author_client.post(f"{URL}/{post.pk}/comments", {"body": "hallo"}, format="json")

    assert api_client.get(URL).json()["results"][0]["comment_count"] == 1


def test_unfiltered_count_follows_drafts_published_later(
    author: Any, author_client: APIClient, api_client: APIClient
) -> None:
    draft = PostFactory(author=author, status=PostStatus.DRAFT)
    PostFactory()
    assert api_client.get(URL, {"limit": 5}).json()["count"] == 1
    assert author_client.get(URL, {"limit": 5}).json()["count"] == 2

    author_client.patch(f"{URL}/{draft.pk}", {"status": "published"}, format="json")

    assert api_client.get(URL, {"limit": 5}).json()["count"] == 2


DEAD_REDIS = {
    "default": {
        "BACKEND": "config.core.redis_cache.SharedPoolRedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


def test_a_cache_outage_degrades_to_the_database(
    author: Any, author_client: APIClient, api_client: APIClient
) -> None:
    post = PostFactory(author=author)

    with override_settings(CACHES=DEAD_REDIS):
        listed = api_client.get(URL)
        shown = detail(api_client, post)
        edited = author_client.patch(f"{URL}/{post.pk}", {"title": "Trotzdem"}, format="json")

    assert listed.status_code == 200
    assert listed.json()["count"] == 1
    assert shown.status_code == 200
    assert edited.status_code == 200


def test_comments_on_posts_off_the_first_page_leave_the_feed_cached(
    author_client: APIClient, api_client: APIClient
) -> None:
    from urllib.parse import urlsplit

    from django.conf import settings

    host = urlsplit(settings.SITE_URL).netloc
    older = PostFactory()
    newest = [PostFactory() for _ in range(20)]
    api_client.get(URL, HTTP_HOST=host)

    author_client.post(f"{URL}/{older.pk}/comments", {"body": "alt"}, format="json")
    assert api_client.get(URL, HTTP_HOST=host)["X-Cache"] == "hit"

    author_client.post(f"{URL}/{newest[-1].pk}/comments", {"body": "neu"}, format="json")
    assert api_client.get(URL, HTTP_HOST=host)["X-Cache"] == "miss"
