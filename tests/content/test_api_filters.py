"""Filters, search and ordering of the post list; malformed values are 400s, never 500s."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from content.models import Post, PostStatus
from tests.content.factories import CommentFactory, PostFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/posts"


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


def at(post: Post, when: dt.datetime) -> Post:
    Post.objects.filter(pk=post.pk).update(created_at=when)
    return post


def test_filter_by_author_id_and_username_case_insensitively(api_client: APIClient) -> None:
    müller = UserFactory(username="Jürgen_Müller")
    post = PostFactory(author=müller)
    PostFactory()

    assert ids(api_client.get(URL, {"author": str(müller.pk)})) == [str(post.pk)]
    assert ids(api_client.get(URL, {"author_username": "jürgen_müller"})) == [str(post.pk)]


def test_filter_by_status_and_tag(api_client: APIClient) -> None:
    archived = PostFactory(status=PostStatus.ARCHIVED, tags=["Köln"])
    PostFactory(tags=["köln"])
    PostFactory(status=PostStatus.ARCHIVED)

    assert ids(api_client.get(URL, {"status": "archived", "tag": "KÖLN"})) == [str(archived.pk)]


def test_anonymous_filtering_for_drafts_finds_nothing(api_client: APIClient) -> None:
    PostFactory(status=PostStatus.DRAFT)

    assert ids(api_client.get(URL, {"status": "draft"})) == []


def test_created_range_takes_dates_and_datetimes(api_client: APIClient) -> None:
    old = at(PostFactory(), dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC))
    mid = at(PostFactory(), dt.datetime(2026, 6, 1, 23, 59, tzinfo=dt.UTC))
    at(PostFactory(), dt.datetime(2026, 11, 1, tzinfo=dt.UTC))

    in_range = {"created_after": "2026-01-10", "created_before": "2026-06-01"}
    assert set(ids(api_client.get(URL, in_range))) == {str(old.pk), str(mid.pk)}
    precise = {"created_after": "2026-01-10T12:00:01Z", "created_before": "2026-06-02T00:00:00Z"}
    assert ids(api_client.get(URL, precise)) == [str(mid.pk)]


def test_commented_by_is_a_nested_filter_through_comments(api_client: APIClient) -> None:
    commenter = UserFactory()
    discussed = PostFactory()
    CommentFactory(post=discussed, author=commenter)
    CommentFactory(post=discussed, author=commenter)
    CommentFactory(post=PostFactory(), author=commenter, deleted=True)
    PostFactory()

    assert ids(api_client.get(URL, {"commented_by": str(commenter.pk)})) == [str(discussed.pk)]


def test_min_comments(api_client: APIClient) -> None:
    busy = PostFactory()
    for _ in range(3):
        CommentFactory(post=busy)
    CommentFactory(post=PostFactory())

    assert ids(api_client.get(URL, {"min_comments": 2})) == [str(busy.pk)]


def test_search_finds_words_in_title_and_body(api_client: APIClient) -> None:
    by_title = PostFactory(title="Straßenbahn timetable", body="nothing here")
    by_body = PostFactory(title="Other", body="The new timetable is out")
    PostFactory(title="Unrelated", body="nothing")
    PostFactory(title="Secret timetable", status=PostStatus.DRAFT)

    found = ids(api_client.get(URL, {"search": "timetable"}))

    assert set(found) == {str(by_title.pk), str(by_body.pk)}


@pytest.mark.postgres
def test_search_is_ranked_title_matches_first_on_postgres(api_client: APIClient) -> None:
    by_body = PostFactory(title="Other", body="timetable timetable")
    by_title = PostFactory(title="Timetable", body="nothing")

    assert ids(api_client.get(URL, {"search": "timetables"})) == [str(by_title.pk), str(by_body.pk)]


def test_sql_injection_in_search_is_just_text(api_client: APIClient) -> None:
    PostFactory(title="Harmless")

    response = api_client.get(URL, {"search": "' OR 1=1--"})

    assert ids(response) == []
    assert Post.objects.count() == 1


def test_ordering_by_several_fields(api_client: APIClient) -> None:
    a = PostFactory(title="Alpha")
    b = PostFactory(title="Beta")
    c = PostFactory(title="Alpha")
    CommentFactory(post=b)

    ordered = ids(api_client.get(URL, {"ordering": "-comment_count,title,created_at"}))

    assert ordered == [str(b.pk), str(a.pk), str(c.pk)]


@pytest.mark.parametrize(
    "params",
    [
        {"author": "not-a-uuid"},
        {"commented_by": "42"},
        {"status": "deleted"},
        {"created_after": "yesterday"},
        {"created_before": "2026-13-01"},
        {"min_comments": "-1"},
        {"min_comments": "lots"},
        {"min_comments": "1.5"},
        {"min_comments": "99999999999999999999"},
        {"search": "nul\u0000byte"},
        {"search": "x" * 201},
        {"tag": "a\u0007"},
        {"ordering": "password"},
        {"ordering": "-created_at,"},
        {"limit": "0"},
        {"offset": "-1"},
    ],
)
def test_malformed_filters_are_400(api_client: APIClient, params: dict[str, str]) -> None:
    PostFactory()

    response = api_client.get(URL, params)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"


def test_cursor_pagination_walks_the_list(api_client: APIClient) -> None:
    created = [PostFactory() for _ in range(5)]
    newest_first = [str(p.pk) for p in reversed(created)]

    first = api_client.get(URL, {"pagination": "cursor", "limit": 2}).json()
    assert "count" not in first
    second = api_client.get(first["next"]).json()
    third = api_client.get(second["next"]).json()

    walked = [item["id"] for page in (first, second, third) for item in page["results"]]
    assert walked == newest_first
    assert third["next"] is None


def test_tampered_cursor_is_400(api_client: APIClient) -> None:
    PostFactory()

    response = api_client.get(URL, {"cursor": "bm90LWEtY3Vyc29y"})

    assert response.status_code == 400


def test_filtered_export_and_list_agree(admin_client: APIClient) -> None:
    tagged = PostFactory(tags=["export"], created_at=timezone.now())
    PostFactory()

    listed = ids(admin_client.get(URL, {"tag": "export"}))
    exported = admin_client.get(f"{URL}/export", {"tag": "export", "file_format": "json"})

    assert listed == [str(tagged.pk)]
    assert [item["id"] for item in _json(exported)] == listed


def _json(response: Any) -> Any:
    import json

    return json.loads(b"".join(response.streaming_content))


def test_search_with_a_tag_counts_and_pages_every_match_once(
    api_client: APIClient, django_assert_num_queries: Any
) -> None:
    matches = [PostFactory(title=f"Festival {n}", tags=["python", "music"]) for n in range(3)]
    PostFactory(title="Festival without the tag", tags=["music"])
    PostFactory(title="Tagged, no match", tags=["python"])
    PostFactory(title="Festival draft", tags=["python"], status=PostStatus.DRAFT)
    query = {"search": "festival", "status": "published", "tag": "python", "limit": 2}
    api_client.get(URL, query)

    # PostgreSQL: the page with its count (COUNT(*) OVER ()) and tag names, its authors (no
    # join: see content.selectors.search_page_shaped), then attachments; SQLite: the count on
    # its own, then the page with its authors joined, tags and attachments.
    from django.db import connection

    with django_assert_num_queries(3 if connection.vendor == "postgresql" else 4):
        first = api_client.get(URL, query).json()
    second = api_client.get(URL, {**query, "offset": 2}).json()
    past_the_end = api_client.get(URL, {**query, "offset": 10}).json()

    assert first["count"] == second["count"] == past_the_end["count"] == 3
    found = [item["id"] for item in first["results"] + second["results"]]
    assert sorted(found) == sorted(str(post.pk) for post in matches)
    assert past_the_end["results"] == []
    assert all(item["tags"] == ["music", "python"] for item in first["results"])
    authors = {str(post.pk): post.author for post in matches}
    for item in first["results"] + second["results"]:
        author = authors[item["id"]]
        assert item["author"] == {
            "id": str(author.pk),
            "username": author.username,
            "display_name": author.display_name,
        }


def test_search_without_matches_counts_zero(api_client: APIClient) -> None:
    PostFactory(title="Festival", tags=["python"])

    answer = api_client.get(URL, {"search": "nothing-like-it", "tag": "python"}).json()

    assert answer["count"] == 0
    assert answer["results"] == []


def test_the_tag_filter_follows_every_change_of_a_posts_tags(
    author: Any, author_client: APIClient
) -> None:
    created = author_client.post(
        URL, {"title": "Tagged", "status": "published", "tags": ["Rust", "go"]}, format="json"
    ).json()
    bulk = author_client.post(
        f"{URL}/bulk",
        {"items": [{"title": "Bulk", "status": "published", "tags": ["rust"]}]},
        format="json",
    ).json()["results"]
    PostFactory(tags=["go"])

    def tagged(tag: str) -> set[str]:
        return set(ids(author_client.get(URL, {"tag": tag})))

    assert tagged("rust") == {created["id"], bulk[0]["id"]}
    author_client.patch(f"{URL}/{created['id']}", {"tags": ["zig"]}, format="json")
    assert tagged("rust") == {bulk[0]["id"]}
    assert tagged("zig") == {created["id"]}
    author_client.patch(f"{URL}/{created['id']}", {"tags": []}, format="json")
    assert tagged("zig") == set()
    assert len(tagged("go")) == 1


@pytest.mark.postgres
def test_posts_carry_their_tag_names_for_the_search_index_on_postgres() -> None:
    from django.db import connection

    post = PostFactory(tags=["b", "a"])
    untagged = PostFactory()

    def tag_names(target: Post) -> list[str] | None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT tag_names FROM content_post WHERE id = %s", [target.pk])
            return cursor.fetchone()[0]

    assert tag_names(post) == ["a", "b"]
    assert tag_names(untagged) is None
    post.tags.remove("a")
    assert tag_names(post) == ["b"]
    # A save from an instance read before the change cannot put the old names back.
    Post.objects.get(pk=post.pk).save()
    assert tag_names(post) == ["b"]
    Post.tags.through.objects.filter(post_id=post.pk).update(post_id=untagged.pk)
    assert (tag_names(post), tag_names(untagged)) == ([], ["b"])


def test_a_tag_inside_a_subquery_reads_the_subquerys_own_rows() -> None:
    from django.db.models import Exists

    from content.filters import post_filters_apply

    posts = {PostFactory(tags=["inner"]).pk, PostFactory(tags=["other"]).pk}
    inner = post_filters_apply(Post.objects.all(), {"tag": "inner"})

    # Uncorrelated: every post has some post tagged `inner` beside it.
    outer = Post.objects.filter(Exists(inner))

    assert set(outer.values_list("pk", flat=True)) == posts


def test_a_search_page_shows_each_posts_current_tags(author: Any, author_client: APIClient) -> None:
    tagged = PostFactory(title="Festival tagged", tags=["b", "a"], author=author)
    untagged = PostFactory(title="Festival untagged")
    author_client.patch(f"{URL}/{tagged.pk}", {"tags": ["c", "a"]}, format="json")

    results = author_client.get(URL, {"search": "festival"}).json()["results"]

    tags = {item["id"]: item["tags"] for item in results}
    assert tags == {str(tagged.pk): ["a", "c"], str(untagged.pk): []}
