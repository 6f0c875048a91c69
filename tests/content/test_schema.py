"""The OpenAPI document covers every content operation, with its errors and parameters."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

CONTENT_OPERATIONS = [
    ("/api/v1/posts", "get"),
    ("/api/v1/posts", "post"),
    ("/api/v1/posts/{id}", "get"),
    ("/api/v1/posts/{id}", "put"),
    ("/api/v1/posts/{id}", "patch"),
    ("/api/v1/posts/{id}", "delete"),
    ("/api/v1/posts/{id}/restore", "post"),
    ("/api/v1/posts/{id}/comments", "get"),
    ("/api/v1/posts/{id}/comments", "post"),
    ("/api/v1/posts/bulk", "post"),
    ("/api/v1/posts/bulk", "patch"),
    ("/api/v1/posts/bulk-delete", "post"),
    ("/api/v1/posts/export", "get"),
    ("/api/v1/posts/stats", "get"),
    ("/api/v1/comments", "get"),
    ("/api/v1/comments/{id}", "get"),
    ("/api/v1/comments/{id}", "put"),
    ("/api/v1/comments/{id}", "patch"),
    ("/api/v1/comments/{id}", "delete"),
    ("/api/v1/comments/{id}/restore", "post"),
]


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        return APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()


@pytest.mark.parametrize(("path", "method"), CONTENT_OPERATIONS)
def test_every_content_operation_is_documented_with_its_errors(schema, path, method) -> None:
    operation = schema["paths"][path][method]

    assert operation["summary"]
    assert any(status.startswith("4") for status in operation["responses"])


def test_the_post_list_documents_every_filter_and_paging_parameter(schema) -> None:
    names = {p["name"] for p in schema["paths"]["/api/v1/posts"]["get"]["parameters"]}

    assert names >= {
        "author", "author_username", "status", "tag", "created_after", "created_before",
        "search", "commented_by", "min_comments", "ordering", "limit", "offset", "cursor",
    }  # fmt: skip


def test_content_posts_accept_an_idempotency_key(schema) -> None:
    names = {p["name"] for p in schema["paths"]["/api/v1/posts"]["post"]["parameters"]}

    assert "Idempotency-Key" in names


def test_post_status_has_one_named_enum(schema) -> None:
    assert schema["components"]["schemas"]["PostStatusEnum"]["enum"] == [
        "draft",
        "published",
        "archived",
    ]
