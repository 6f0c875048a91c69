"""The OpenAPI document covers every content operation, with its errors and parameters."""

from __future__ import annotations

import json
import re

import pytest

from tests.content.factories import CommentFactory, PostFactory
from tests.openapi import assert_matches

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


def test_the_json_export_is_documented_as_a_list_of_posts(author_client) -> None:
    PostFactory(tags=["köln"])

    response = author_client.get("/api/v1/posts/export", {"file_format": "json"})

    body = json.loads(b"".join(response.streaming_content))
    assert body
    assert_matches(body, "/api/v1/posts/export", "get", 200)


def test_stats_answer_the_documented_shape(author_client) -> None:
    CommentFactory(post=PostFactory())

    response = author_client.get("/api/v1/posts/stats", {"days": 3})

    assert_matches(response.json(), "/api/v1/posts/stats", "get", 200)


def test_the_comments_of_a_post_document_the_comment_filters(schema) -> None:
    operation = schema["paths"]["/api/v1/posts/{id}/comments"]["get"]

    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"post", "author", "parent", "top_level", "created_after", "created_before"} <= names


def test_list_filters_state_their_real_constraints(schema) -> None:
    parameters = {
        p["name"]: p["schema"] for p in schema["paths"]["/api/v1/posts"]["get"]["parameters"]
    }

    assert parameters["search"]["maxLength"] == 200
    assert parameters["min_comments"] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
    assert parameters["commented_by"] == {"type": "string", "format": "uuid"}
    assert parameters["created_after"]["anyOf"] == [{"format": "date"}, {"format": "date-time"}]
    assert "nullable" not in parameters["published_before"]
    assert re.fullmatch(parameters["ordering"]["pattern"], "-created_at, title")
    assert not re.fullmatch(parameters["ordering"]["pattern"], "created_at,")
    assert not re.fullmatch(parameters["ordering"]["pattern"], "author")


@pytest.mark.parametrize(
    ("method", "component"),
    [("post", "PostBulkCreateInputRequest"), ("patch", "PatchedPostBulkUpdateInputRequest")],
)
def test_bulk_bodies_document_their_items(schema, method, component) -> None:
    body = schema["paths"]["/api/v1/posts/bulk"][method]["requestBody"]["content"]
    items = schema["components"]["schemas"][component]["properties"]["items"]

    assert body["application/json"]["schema"]["$ref"].endswith(f"/{component}")
    assert (items["minItems"], items["maxItems"]) == (1, 500)
    assert schema["components"]["schemas"][component]["required"] == ["items"]


def test_a_bulk_update_item_needs_only_its_id(schema) -> None:
    assert schema["components"]["schemas"]["PostBulkUpdateItemRequest"]["required"] == ["id"]


@pytest.mark.parametrize(
    ("path", "required"),
    [("/api/v1/comments/{id}", True), ("/api/v1/posts/bulk", True), ("/api/v1/posts/{id}", False)],
)
def test_a_patch_body_is_required_only_where_the_server_needs_one(schema, path, required) -> None:
    body = schema["paths"][path]["patch"]["requestBody"]

    assert body.get("required", False) is required
