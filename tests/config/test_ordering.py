"""`?ordering=` (config.api.ordering): a whitelist, several fields, NULLs last, `id` breaks ties."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db.models import F
from django.db.models.functions import Lower
from rest_framework.test import APIClient

from config.api.ordering import SortTerm, StrictOrderingFilter, sort_terms
from content.models import Post, PostStatus
from tests.config.urls_pagination import POSTS_PATH, PostListView
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.config.urls_pagination")]

BASE = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
ALLOWED = "created_at, published_at, title, comment_count, author, title_ci"


def post(**fields: Any) -> Post:
    fields.setdefault("author", UserFactory())
    fields.setdefault("title", "post")
    if fields.get("published_at"):
        fields.setdefault("status", PostStatus.PUBLISHED)
    return Post.objects.create(**fields)


def listed(client: APIClient, ordering: str | None = None) -> list[dict[str, Any]]:
    params = {} if ordering is None else {"ordering": ordering}
    response = client.get(POSTS_PATH, {**params, "limit": 50})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def errors_of(client: APIClient, ordering: str) -> Any:
    response = client.get(POSTS_PATH, {"ordering": ordering})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    return response.json()["error"]["details"]


def test_an_unknown_field_is_a_400_naming_the_allowed_ones(api_client) -> None:
    assert errors_of(api_client, "-created_at,body") == {
        "ordering": [f"Unknown ordering field: body. Allowed: {ALLOWED}."]
    }


@pytest.mark.parametrize("ordering", ["", "-", "title,,created_at", "title, "])
def test_an_empty_field_is_a_400(api_client, ordering: str) -> None:
    assert errors_of(api_client, ordering) == {
        "ordering": [f"Empty ordering field. Allowed: {ALLOWED}."]
    }


def test_a_repeated_field_is_a_400(api_client) -> None:
    assert errors_of(api_client, "title,-title") == {
        "ordering": ["Duplicate ordering field: title."]
    }


def test_a_model_field_outside_the_whitelist_is_refused(api_client) -> None:
    assert "Unknown ordering field: id." in errors_of(api_client, "id")["ordering"][0]


def test_several_fields_sort_in_turn_and_id_breaks_the_remaining_ties(api_client) -> None:
    for count, title in [(2, "b"), (5, "a"), (2, "a"), (5, "a"), (2, "b"), (0, "c")]:
        post(comment_count=count, title=title)

    rows = listed(api_client, "-comment_count,title")

    keys = [(row["comment_count"], row["title"]) for row in rows]
    assert keys == [(5, "a"), (5, "a"), (2, "a"), (2, "b"), (2, "b"), (0, "c")]
    assert rows[0]["id"] < rows[1]["id"]
    assert rows[3]["id"] < rows[4]["id"]


@pytest.mark.parametrize(("ordering", "descending"), [("created_at", False), ("-created_at", True)])
def test_id_breaks_ties_in_the_direction_of_the_last_field(
    api_client, ordering: str, descending: bool
) -> None:
    for _ in range(6):
        post()
    Post.objects.update(created_at=BASE)

    ids = [row["id"] for row in listed(api_client, ordering)]

    assert ids == sorted(ids, reverse=descending)


@pytest.mark.parametrize("ordering", ["published_at", "-published_at"])
def test_nulls_sort_last_in_both_directions(api_client, ordering: str) -> None:
    for minutes in (3, 1, 2):
        post(published_at=BASE + datetime.timedelta(minutes=minutes))
    post()
    post()

    dates = [row["published_at"] for row in listed(api_client, ordering)]

    assert dates[3:] == [None, None]
    assert dates[:3] == sorted(dates[:3], reverse=ordering.startswith("-"))


def test_a_public_name_maps_to_a_related_field(api_client) -> None:
    for name in ("zoë", "anna", "märta"):
        post(author=UserFactory(username=name), title=name)

    titles = [row["title"] for row in listed(api_client, "-author")]

    assert titles == sorted(titles, reverse=True)


def test_a_public_name_maps_to_an_expression(api_client) -> None:
    for title in ("b", "A", "c", "B"):
        post(title=title)

    titles = [row["title"] for row in listed(api_client, "title_ci")]

    assert [title.lower() for title in titles] == ["a", "b", "b", "c"]


def test_without_the_parameter_the_views_default_applies(api_client) -> None:
    posts = [post() for _ in range(3)]
    for minutes, item in enumerate(posts):
        Post.objects.filter(pk=item.pk).update(
            created_at=BASE + datetime.timedelta(minutes=minutes)
        )

    ids = [row["id"] for row in listed(api_client)]

    assert ids == [str(item.pk) for item in reversed(posts)]


def test_sort_terms_append_the_primary_key_and_put_nulls_last_only_where_values_can_be_null() -> (
    None
):
    terms = sort_terms(Post.objects.order_by("-published_at", "title", "author"))

    assert terms == [
        SortTerm(F("published_at"), descending=True, nulls="last"),
        SortTerm(F("title"), descending=False, nulls=None),
        SortTerm(F("author_id"), descending=False, nulls=None),
        SortTerm(F("id"), descending=False, nulls=None),
    ]


def test_sort_terms_stop_at_the_primary_key_and_read_the_models_ordering() -> None:
    assert sort_terms(Post.objects.order_by("-id", "title")) == [
        SortTerm(F("id"), descending=True, nulls=None)
    ]
    assert sort_terms(Post.objects.all()) == [
        SortTerm(F("created_at"), descending=True, nulls=None),
        SortTerm(F("id"), descending=True, nulls=None),
    ]


def test_sort_terms_keep_explicit_nulls_and_treat_expressions_as_nullable() -> None:
    terms = sort_terms(
        Post.objects.order_by(F("published_at").asc(nulls_first=True), Lower("title").desc())
    )

    assert terms[0] == SortTerm(F("published_at"), descending=False, nulls="first")
    assert terms[1].nulls == "last"
    assert terms[2] == SortTerm(F("id"), descending=True, nulls=None)


def test_the_schema_parameter_lists_the_allowed_fields_and_the_default() -> None:
    (parameter,) = StrictOrderingFilter().get_schema_operation_parameters(PostListView())

    assert parameter["name"] == "ordering"
    assert parameter["in"] == "query"
    for name in ALLOWED.split(", "):
        assert f"`{name}`" in parameter["description"]
    assert "Default: `-created_at`" in parameter["description"]
