"""The OpenAPI document and the documentation pages, served from our own static files."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient


@pytest.mark.parametrize("path", ["/api/schema/", "/api/schema"])
def test_schema_is_openapi_3_with_bearer_auth(api_client: APIClient, path: str) -> None:
    response = api_client.get(path, HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Agora API"
    schemes = schema["components"]["securitySchemes"]
    assert any(s["type"] == "http" and s["scheme"] == "bearer" for s in schemes.values())
    assert "/api/v1/jobs" in schema["paths"]
    assert "/health/ready" in schema["paths"]


@pytest.mark.parametrize("path", ["/docs", "/docs/", "/redoc", "/redoc/"])
def test_doc_pages_load_only_local_assets(api_client: APIClient, path: str) -> None:
    response = api_client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    assert not [asset for asset in assets if asset.startswith(("http:", "https:", "//"))]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_every_asset_of_the_doc_pages_is_served(api_client: APIClient, path: str) -> None:
    html = api_client.get(path).content.decode()
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)

    assert scripts
    for script in scripts:
        response = api_client.get(script)
        assert response.status_code == 200, script


def test_swagger_page_needs_no_inline_script(api_client: APIClient) -> None:
    html = api_client.get("/docs").content.decode()

    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", html)


def test_schema_is_valid_openapi_without_generator_warnings(tmp_path) -> None:
    from django.core.management import call_command

    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )

    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")


def test_error_responses_are_documented_in_the_envelope_shape(api_client: APIClient) -> None:
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    responses = schema["paths"]["/api/v1/jobs"]["post"]["responses"]
    for status in ("400", "401", "413", "415", "503"):
        ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/ErrorEnvelope"
    envelope = schema["components"]["schemas"]["ErrorDetail"]["properties"]
    assert set(envelope) == {"code", "message", "details", "request_id"}


def test_every_api_operation_documents_the_429(api_client: APIClient) -> None:
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    operations = [
        operation
        for path, operations in schema["paths"].items()
        if path.startswith("/api/v1/")
        for operation in operations.values()
    ]

    assert len(operations) > 15
    assert all("429" in operation["responses"] for operation in operations)


def _operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [
        (path, method, operation)
        for path, operations in schema["paths"].items()
        if path.startswith("/api/")
        for method, operation in operations.items()
    ]


def test_every_operation_reading_a_body_documents_its_refusals(api_client: APIClient) -> None:
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    with_body = [(p, m, o) for p, m, o in _operations(schema) if "requestBody" in o]

    assert len(with_body) > 20
    for path, method, operation in with_body:
        assert {"400", "413", "415"} <= set(operation["responses"]), (method, path)


def test_every_operation_reading_credentials_documents_the_401(api_client: APIClient) -> None:
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    authenticated = [(p, m, o) for p, m, o in _operations(schema) if any(o.get("security", [{}]))]

    assert ("/api/v1/posts", "get") in {(p, m) for p, m, _ in authenticated}
    for path, method, operation in authenticated:
        assert "401" in operation["responses"], (method, path)


def test_cookie_authenticated_writes_document_the_csrf_403(api_client: APIClient) -> None:
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    responses = schema["paths"]["/api/v1/auth/logout-all"]["post"]["responses"]

    assert "X-CSRFToken" in responses["403"]["description"]


def test_the_idempotency_key_is_documented_with_its_real_constraints(
    api_client: APIClient,
) -> None:
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/posts/{id}/restore"]["post"]

    (key,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]

    assert key["schema"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": "^[ -~]+$",
    }
    assert "Idempotency-Key" in operation["responses"]["400"]["description"]


def test_only_json_bodies_are_documented_but_the_oauth2_token_form_and_the_upload(
    api_client: APIClient,
) -> None:
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    media_types = {
        (path, method): set(operation["requestBody"]["content"])
        for path, method, operation in _operations(schema)
        if "requestBody" in operation
    }

    assert media_types.pop(("/api/v1/auth/token", "post")) == {
        "application/json",
        "application/x-www-form-urlencoded",
    }
    assert media_types.pop(("/api/v1/uploads", "post")) == {"multipart/form-data"}
    assert set().union(*media_types.values()) == {"application/json"}
