"""The OpenAPI document covers every accounts endpoint, with examples and error shapes."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

ACCOUNT_OPERATIONS = [
    ("/api/v1/auth/register", "post"),
    ("/api/v1/auth/verify-email", "post"),
    ("/api/v1/auth/token", "post"),
    ("/api/v1/auth/token/refresh", "post"),
    ("/api/v1/auth/logout", "post"),
    ("/api/v1/auth/logout-all", "post"),
    ("/api/v1/auth/password-reset", "post"),
    ("/api/v1/auth/password-reset/confirm", "post"),
    ("/api/v1/auth/password-change", "post"),
    ("/api/v1/auth/ws-ticket", "post"),
    ("/api/v1/auth/api-keys", "get"),
    ("/api/v1/auth/api-keys", "post"),
    ("/api/v1/auth/api-keys/{key_id}", "delete"),
    ("/api/v1/auth/sessions", "get"),
    ("/api/v1/auth/sessions/{session_id}", "delete"),
    ("/api/v1/users", "get"),
    ("/api/v1/users/me", "get"),
    ("/api/v1/users/me", "patch"),
    ("/api/v1/users/{user_id}", "get"),
    ("/api/v1/users/{user_id}", "patch"),
]


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        return APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()


@pytest.mark.parametrize(("path", "method"), ACCOUNT_OPERATIONS)
def test_every_accounts_operation_is_documented_with_its_errors(schema, path, method) -> None:
    operation = schema["paths"][path][method]

    assert operation["summary"]
    assert any(status.startswith(("4", "5")) for status in operation["responses"])


@pytest.mark.parametrize(
    ("path", "method"), [(p, m) for p, m in ACCOUNT_OPERATIONS if m in ("post", "patch")]
)
def test_every_accounts_write_with_a_body_has_an_example(schema, path, method) -> None:
    operation = schema["paths"][path][method]
    bodies = operation.get("requestBody", {}).get("content", {}).values()
    documented = [m for m in operation["responses"].values() if "content" in m]
    examples = [b.get("examples") for b in bodies] + [
        c.get("examples") for m in documented for c in m["content"].values()
    ]

    assert operation.get("requestBody") is None or any(examples)


def test_the_token_endpoint_is_declared_as_the_oauth2_password_flow(schema) -> None:
    schemes = schema["components"]["securitySchemes"]

    assert schemes["passwordFlow"]["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    assert schemes["apiKeyAuth"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
