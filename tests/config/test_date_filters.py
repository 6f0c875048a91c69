"""The date filters every list shares (config.api.filters): extreme offsets and years are a
400 or a correct answer, never a 500 (PostgreSQL refuses offsets beyond ±15:59)."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from content.models import Post
from tests.content.factories import CommentFactory, PostFactory
from tests.factories import AdminFactory

pytestmark = pytest.mark.django_db

# Each list and one of its date filters of each direction.
LISTS = [
    ("/api/v1/posts", "created_after", "created_before"),
    ("/api/v1/posts", "published_after", "published_before"),
    ("/api/v1/comments", "created_after", "created_before"),
    ("/api/v1/audits", "occurred_after", "occurred_before"),
]
# Python reads these; PostgreSQL does not take their offsets as they are.
EXTREME_BUT_VALID = [
    "2277-10-19T05:45:15+20:25",
    "2026-11-22T10:00:00-23:59",
    "9999-12-31T23:59:59.999999+00:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31",
    "0001-01-01",
]
# Moments outside years 1 to 9999 once in UTC, and offsets no one can write.
OUT_OF_RANGE = [
    "9999-12-31T23:59:59-05:00",
    "0001-01-01T00:00:00+05:00",
    "2026-11-22T10:00:00+24:00",
    "10000-01-01",
    "2026-02-30",
]


@pytest.fixture
def admin_client() -> APIClient:
    client = APIClient()
    client.force_authenticate(AdminFactory())
    return client


@pytest.fixture
def some_content() -> None:
    CommentFactory(post=PostFactory(status="published"))


@pytest.mark.usefixtures("some_content")
@pytest.mark.parametrize(("path", "after", "before"), LISTS)
@pytest.mark.parametrize("value", EXTREME_BUT_VALID)
def test_extreme_but_valid_moments_filter(
    admin_client: APIClient, path: str, after: str, before: str, value: str
) -> None:
    for name in (after, before):
        response = admin_client.get(path, {name: value})

        assert response.status_code == 200, (name, value, response.content)


@pytest.mark.usefixtures("some_content")
@pytest.mark.parametrize(("path", "after", "before"), LISTS)
@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_out_of_range_moments_are_400(
    admin_client: APIClient, path: str, after: str, before: str, value: str
) -> None:
    for name in (after, before):
        response = admin_client.get(path, {name: value})

        assert response.status_code == 400, (name, value, response.content)
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert name in error["details"]


def test_an_offset_beyond_postgresql_range_means_the_same_instant(
    admin_client: APIClient,
) -> None:
    post = PostFactory()
    Post.objects.filter(pk=post.pk).update(
        created_at=dt.datetime(2277, 10, 18, 9, 20, tzinfo=dt.UTC)
    )

    # 2277-10-19T05:45:15+20:25 is 2277-10-18T09:20:15Z.
    just_after = admin_client.get("/api/v1/posts", {"created_after": "2277-10-19T05:45:15+20:25"})
    just_before = admin_client.get("/api/v1/posts", {"created_before": "2277-10-19T05:45:15+20:25"})

    assert [item["id"] for item in just_after.json()["results"]] == []
    assert [item["id"] for item in just_before.json()["results"]] == [str(post.pk)]
