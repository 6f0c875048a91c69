"""Offset and cursor pages on one endpoint (config.api.pagination), over real posts."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from config.api.pagination import ApiPagination
from content.models import Post, PostStatus
from tests.config.urls_pagination import (
    COUNTED_POSTS_PATH,
    MODEL_ORDER_POSTS_PATH,
    POSTS_PATH,
    SUPPLIED_COUNT,
    PostListView,
)
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.config.urls_pagination")]

BASE = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
TITLES = ("alpha", "beta", "gamma", "delta")
ORDERINGS = [
    "-created_at",
    "created_at",
    "-published_at",
    "published_at",
    "-comment_count,title",
    "title,-published_at",
    "comment_count,-created_at",
    "author,-title",
    "-title_ci",
]


def make_posts(count: int = 23) -> list[Post]:
    """Posts with ties on every field, NULL `published_at` (drafts) and microsecond steps."""
    authors = [UserFactory(username=name) for name in ("anna", "bernd", "chen")]
    posts = []
    for i in range(count):
        draft = i % 4 == 0
        post = Post.objects.create(
            author=authors[i % 3],
            title=TITLES[i % len(TITLES)],
            status=PostStatus.DRAFT if draft else PostStatus.PUBLISHED,
            published_at=None if draft else BASE + datetime.timedelta(microseconds=i % 5),
            comment_count=i % 3,
        )
        # Three posts per created_at value; some one microsecond apart.
        created = BASE + datetime.timedelta(seconds=i // 3, microseconds=1 if i % 3 == 2 else 0)
        Post.objects.filter(pk=post.pk).update(created_at=created)
        posts.append(post)
    return posts


def get(client: APIClient, url: str, params: dict[str, Any] | None = None) -> Any:
    response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    return response.json()


def ids(body: dict[str, Any]) -> list[str]:
    return [row["id"] for row in body["results"]]


def offset_ids(client: APIClient, ordering: str, path: str = POSTS_PATH) -> list[str]:
    return ids(get(client, path, {"ordering": ordering, "limit": 50}))


def walk_forward(client: APIClient, first_url: str, params: dict[str, Any]) -> list[Any]:
    pages = [get(client, first_url, params)]
    while pages[-1]["next"]:
        pages.append(get(client, pages[-1]["next"]))
    return pages


def walk_back(client: APIClient, last_page: dict[str, Any]) -> list[Any]:
    pages = [last_page]
    while pages[-1]["previous"]:
        pages.append(get(client, pages[-1]["previous"]))
    return pages[::-1]


def cursor_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["cursor"][0]


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_cursor_pages_walk_the_same_order_as_offset_pages(api_client, ordering: str) -> None:
    make_posts()
    expected = offset_ids(api_client, ordering)

    pages = walk_forward(api_client, POSTS_PATH, {"cursor": "", "ordering": ordering, "limit": 4})

    walked = [post_id for page in pages for post_id in ids(page)]
    assert walked == expected
    assert len(set(walked)) == 23
    assert [len(page["results"]) for page in pages] == [4, 4, 4, 4, 4, 3]


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_previous_links_walk_back_through_the_same_pages(api_client, ordering: str) -> None:
    make_posts()
    forward = walk_forward(api_client, POSTS_PATH, {"cursor": "", "ordering": ordering, "limit": 4})

    backward = walk_back(api_client, forward[-1])

    assert [ids(page) for page in backward] == [ids(page) for page in forward]
    assert backward[0]["previous"] is None


def test_pagination_cursor_starts_cursor_pages_like_an_empty_cursor(api_client) -> None:
    make_posts(7)

    by_mode = get(api_client, POSTS_PATH, {"pagination": "cursor", "limit": 3})
    by_cursor = get(api_client, POSTS_PATH, {"cursor": "", "limit": 3})

    assert set(by_mode) == {"next", "previous", "results"}
    assert ids(by_mode) == ids(by_cursor)
    assert by_mode["previous"] is None
    assert "pagination=" not in by_mode["next"]
    assert get(api_client, by_mode["next"])["results"]


def test_drafts_with_null_published_at_come_last_in_both_directions(api_client) -> None:
    make_posts(12)

    for ordering in ("published_at", "-published_at"):
        pages = walk_forward(api_client, POSTS_PATH, {"cursor": "", "ordering": ordering})
        dates = [row["published_at"] for page in pages for row in page["results"]]
        assert dates[-3:] == [None, None, None]
        assert None not in dates[:-3]


def test_model_meta_ordering_is_paginated_without_an_ordering_filter(api_client) -> None:
    make_posts(11)
    expected = ids(get(api_client, MODEL_ORDER_POSTS_PATH, {"limit": 50}))

    pages = walk_forward(api_client, MODEL_ORDER_POSTS_PATH, {"cursor": "", "limit": 3})

    assert [post_id for page in pages for post_id in ids(page)] == expected
    assert expected == [
        str(pk) for pk in Post.objects.order_by("-created_at", "-id").values_list("pk", flat=True)
    ]


def test_rows_inserted_or_deleted_between_pages_neither_repeat_nor_skip_rows(api_client) -> None:
    existing = {str(post.pk) for post in make_posts(20)}
    author = UserFactory()
    first = get(api_client, POSTS_PATH, {"cursor": "", "limit": 5})
    seen = ids(first)
    boundary = Post.objects.get(pk=seen[-1])
    # Newer posts go to the top, one ties the boundary's created_at, one lands mid-list; the
    # boundary row itself disappears.
    for offset in (datetime.timedelta(days=1), datetime.timedelta(0), -datetime.timedelta(hours=1)):
        post = Post.objects.create(author=author, title="late")
        Post.objects.filter(pk=post.pk).update(created_at=boundary.created_at + offset)
    boundary.delete()

    page = first
    while page["next"]:
        page = get(api_client, page["next"])
        seen += ids(page)

    assert len(seen) == len(set(seen))
    assert existing <= set(seen)


def test_an_empty_page_past_the_end_links_back_to_the_rows_before_it(api_client) -> None:
    make_posts(6)
    first = get(api_client, POSTS_PATH, {"cursor": "", "limit": 5})
    Post.objects.filter(pk__in=ids(first)[-1:]).delete()
    Post.objects.exclude(pk__in=ids(first)).delete()

    empty = get(api_client, first["next"])
    back = get(api_client, empty["previous"])

    assert empty["results"] == []
    assert empty["next"] is None
    assert ids(back) == ids(first)[:-1]


def test_a_deep_cursor_page_seeks_with_where_not_offset(api_client) -> None:
    make_posts(12)
    first = get(api_client, POSTS_PATH, {"cursor": "", "limit": 5})

    with CaptureQueriesContext(connection) as queries:
        get(api_client, first["next"])

    (sql,) = [query["sql"] for query in queries.captured_queries]
    assert "OFFSET" not in sql.upper()
    assert "LIMIT 6" in sql.upper()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda cursor: cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:],
        lambda cursor: cursor + "x",
        lambda cursor: "not-a-cursor",
        lambda cursor: cursor.rsplit(":", 1)[0],
    ],
)
def test_a_tampered_or_garbage_cursor_is_a_400(api_client, tamper) -> None:
    make_posts(8)
    cursor = cursor_of(get(api_client, POSTS_PATH, {"cursor": "", "limit": 3})["next"])

    response = api_client.get(POSTS_PATH, {"cursor": tamper(cursor), "limit": 3})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"] == {"cursor": ["Invalid cursor."]}


def test_a_signed_cursor_with_values_of_the_wrong_shape_is_a_400_not_a_500(api_client) -> None:
    make_posts(4)
    good = signing.loads(
        cursor_of(get(api_client, POSTS_PATH, {"cursor": "", "limit": 2})["next"]),
        salt="agora.pagination.cursor",
    )
    forged = signing.dumps(
        {**good, "v": [["dt", "yesterday"], ["u", "x"]]}, salt="agora.pagination.cursor"
    )

    response = api_client.get(POSTS_PATH, {"cursor": forged})

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"cursor": ["Invalid cursor."]}


def test_a_cursor_from_another_ordering_is_a_400(api_client) -> None:
    make_posts(8)
    cursor = cursor_of(get(api_client, POSTS_PATH, {"cursor": "", "limit": 3})["next"])

    response = api_client.get(POSTS_PATH, {"cursor": cursor, "ordering": "title"})

    assert response.status_code == 400
    assert "another ordering" in response.json()["error"]["details"]["cursor"][0]


def test_cursor_pages_clamp_the_limit_to_50(api_client) -> None:
    make_posts(55)

    body = get(api_client, POSTS_PATH, {"cursor": "", "limit": 1000})

    assert len(body["results"]) == 50
    assert len(get(api_client, body["next"])["results"]) == 5


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "", "limit": 0}, "limit"),
        ({"cursor": "", "limit": "x"}, "limit"),
        ({"cursor": "", "offset": 5}, "offset"),
        ({"pagination": "pages"}, "pagination"),
        ({"pagination": "offset", "cursor": ""}, "cursor"),
    ],
)
def test_bad_pagination_parameters_are_a_400(api_client, params, field) -> None:
    response = api_client.get(POSTS_PATH, params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == [field]


def test_pagination_offset_is_accepted_explicitly(api_client) -> None:
    make_posts(5)

    body = get(api_client, POSTS_PATH, {"pagination": "offset", "limit": 2, "offset": 2})

    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert body["next"]
    assert body["previous"]


def test_offset_pages_break_ties_by_id(api_client) -> None:
    make_posts(9)
    Post.objects.update(created_at=BASE)

    body = get(api_client, POSTS_PATH, {"ordering": "created_at"})

    assert ids(body) == sorted(ids(body))


def test_a_view_may_supply_its_own_count(api_client) -> None:
    make_posts(3)

    offset_body = get(api_client, COUNTED_POSTS_PATH)
    cursor_body = get(api_client, COUNTED_POSTS_PATH, {"cursor": ""})

    assert offset_body["count"] == SUPPLIED_COUNT
    assert len(offset_body["results"]) == 3
    assert "count" not in cursor_body


@pytest.mark.parametrize("limit", [5, 20])
def test_offset_pages_take_a_count_and_a_page_query_at_any_size(
    api_client, django_assert_num_queries, limit: int
) -> None:
    make_posts(25)

    with django_assert_num_queries(2):
        body = get(api_client, POSTS_PATH, {"limit": limit, "ordering": "-comment_count,title"})

    assert len(body["results"]) == limit


@pytest.mark.parametrize("limit", [5, 20])
def test_cursor_pages_take_one_query_at_any_size(
    api_client, django_assert_num_queries, limit: int
) -> None:
    make_posts(45)
    first = get(api_client, POSTS_PATH, {"cursor": "", "limit": limit, "ordering": "author"})

    with django_assert_num_queries(1):
        second = get(api_client, first["next"])
    with django_assert_num_queries(1):
        get(api_client, second["previous"])

    assert len(second["results"]) == limit


def test_the_schema_documents_both_styles() -> None:
    paginator = ApiPagination()

    names = [p["name"] for p in paginator.get_schema_operation_parameters(PostListView())]
    response = paginator.get_paginated_response_schema({"type": "array"})

    assert names == ["limit", "offset", "cursor", "pagination"]
    assert response["required"] == ["next", "previous", "results"]
    assert set(response["properties"]) == {"count", "next", "previous", "results"}


def test_the_published_schema_lists_cursor_parameters_on_lists(api_client) -> None:
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    operation = schema["paths"]["/api/v1/users"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"limit", "offset", "cursor", "pagination"} <= names


def test_cursor_values_round_trip_exactly() -> None:
    from config.api.pagination import _decode_value, _encode_value

    values = [
        datetime.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=datetime.UTC),
        datetime.datetime(
            2026,
            3,
            1,
            12,
            0,
            0,
            1,
            tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30)),
        ),
        datetime.date(2026, 3, 1),
        Post().pk,
        10,
        0.1,
        True,
        "Grüße 李雷 🚀",
        None,
        datetime.timedelta(days=1, microseconds=7),
    ]

    decoded = [_decode_value(signing.loads(signing.dumps(_encode_value(v)))) for v in values]

    assert decoded == values
    assert [type(v) for v in decoded] == [type(v) for v in values]
