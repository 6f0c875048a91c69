"""The OpenAPI document describes every upload operation as the server answers it."""

from __future__ import annotations

import pytest

from config.http.envelope import STATUS_BY_CODE
from tests.openapi import openapi_document

pytestmark = pytest.mark.django_db

UPLOAD_OPERATIONS = [
    ("/api/v1/uploads", "get", {"200", "400", "401"}),
    ("/api/v1/uploads", "post", {"201", "400", "401", "403", "409", "413", "415"}),
    ("/api/v1/uploads/{id}", "get", {"200", "404"}),
    ("/api/v1/uploads/{id}", "delete", {"204", "401", "403", "404"}),
    ("/api/v1/uploads/{id}/content", "get", {"200", "404"}),
    ("/api/v1/uploads/{id}/thumbnails/{size}", "get", {"200", "404"}),
]


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        return openapi_document()


@pytest.mark.parametrize(("path", "method", "statuses"), UPLOAD_OPERATIONS)
def test_every_upload_operation_is_documented_with_its_answers(
    schema, path, method, statuses
) -> None:
    operation = schema["paths"][path][method]

    assert operation["summary"]
    assert operation["tags"] == ["uploads"]
    assert statuses <= set(operation["responses"])


def test_create_takes_a_multipart_file_and_an_idempotency_key(schema) -> None:
    operation = schema["paths"]["/api/v1/uploads"]["post"]

    content = operation["requestBody"]["content"]
    assert list(content) == ["multipart/form-data"]
    body = schema["components"]["schemas"]["UploadInputRequest"]
    assert body["properties"]["file"] == {**body["properties"]["file"], "format": "binary"}
    assert body["required"] == ["file"]
    assert "Idempotency-Key" in {p["name"] for p in operation["parameters"]}


def test_the_content_is_documented_in_every_stored_type(schema) -> None:
    responses = schema["paths"]["/api/v1/uploads/{id}/content"]["get"]["responses"]

    assert set(responses["200"]["content"]) == {
        "image/jpeg", "image/png", "image/webp", "image/gif", "application/pdf", "text/plain",
    }  # fmt: skip


def test_a_thumbnail_size_is_one_of_the_made_sizes(schema) -> None:
    operation = schema["paths"]["/api/v1/uploads/{id}/thumbnails/{size}"]["get"]

    size = next(p for p in operation["parameters"] if p["name"] == "size")
    assert sorted(size["schema"]["enum"], key=int) == ["256", "1024"]
    assert set(operation["responses"]["200"]["content"]) == {"image/webp"}


def test_an_upload_and_its_enums_are_named_components(schema) -> None:
    components = schema["components"]["schemas"]

    assert components["UploadKindEnum"]["enum"] == ["image", "document"]
    assert len(components["UploadContentTypeEnum"]["enum"]) == 6
    assert components["UploadThumbnailsOutput"]["additionalProperties"] is False
    assert set(components["UploadThumbnailsOutput"]["properties"]) == {"256", "1024"}


def test_posts_document_their_attachments(schema) -> None:
    components = schema["components"]["schemas"]

    shown = components["PostOutput"]["properties"]["attachments"]
    taken = components["PostInputRequest"]["properties"]["attachments"]
    assert shown["items"]["$ref"].endswith("/UploadOutput")
    assert (taken["maxItems"], taken["items"]["format"]) == (10, "uuid")
    assert "attachments" not in components["PostExportItemOutput"]["properties"]


def test_checksum_mismatch_is_a_400_code() -> None:
    assert STATUS_BY_CODE["checksum_mismatch"] == 400
