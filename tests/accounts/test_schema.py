"""The OpenAPI document covers every accounts endpoint, with examples and error shapes."""

from __future__ import annotations

import re

import pytest

from accounts.validators import password_length_limits
from tests.accounts.helpers import authed
from tests.factories import UserFactory, token_pair
from tests.openapi import assert_matches

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


def test_a_profile_is_documented_as_either_the_whole_or_the_public_one(schema) -> None:
    ok = schema["paths"]["/api/v1/users/{user_id}"]["get"]["responses"]["200"]
    profile = schema["components"]["schemas"]["UserProfile"]

    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/UserProfile")
    assert profile["oneOf"] == [
        {"$ref": "#/components/schemas/UserOutput"},
        {"$ref": "#/components/schemas/PublicUserOutput"},
    ]
    assert schema["components"]["schemas"]["PublicUserOutput"]["additionalProperties"] is False


def test_others_get_a_public_profile_that_matches_the_document(api_client) -> None:
    target = UserFactory(bio="Grüße aus Köln")

    anonymous = api_client.get(f"/api/v1/users/{target.pk}")
    other = authed(token_pair(UserFactory()).access_token).get(f"/api/v1/users/{target.pk}")

    assert "email" not in anonymous.json()
    assert_matches(anonymous.json(), "/api/v1/users/{user_id}", "get", 200)
    assert_matches(other.json(), "/api/v1/users/{user_id}", "get", 200)


def test_the_user_themself_gets_the_whole_profile_that_matches_the_document() -> None:
    user = UserFactory()

    response = authed(token_pair(user).access_token).get(f"/api/v1/users/{user.pk}")

    assert response.json()["email"] == user.email
    assert_matches(response.json(), "/api/v1/users/{user_id}", "get", 200)


def test_a_replayed_api_key_answer_has_a_null_key_as_documented() -> None:
    client = authed(token_pair(UserFactory()).access_token)
    send = lambda: client.post(  # noqa: E731
        "/api/v1/auth/api-keys", {"name": "Nightly"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    first, replay = send(), send()

    assert first.json()["key"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["key"] is None
    assert_matches(first.json(), "/api/v1/auth/api-keys", "post", 201)
    assert_matches(replay.json(), "/api/v1/auth/api-keys", "post", 201)


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("RegisterInputRequest", "password"),
        ("PasswordChangeInputRequest", "new_password"),
        ("PasswordResetConfirmInputRequest", "new_password"),
    ],
)
def test_new_passwords_state_the_validators_length_limits(schema, component, field) -> None:
    password = schema["components"]["schemas"][component]["properties"][field]

    assert (password["minLength"], password["maxLength"]) == password_length_limits()


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("RegisterInputRequest", "display_name"),
        ("PatchedProfileUpdateInputRequest", "bio"),
        ("ApiKeyInputRequest", "name"),
    ],
)
def test_printable_text_fields_carry_their_pattern(schema, component, field) -> None:
    pattern = schema["components"]["schemas"][component]["properties"][field]["pattern"]

    assert re.fullmatch(pattern, "Siobhán O'Brien 李雷 🚀")
    assert not re.fullmatch(pattern, "nul\x00")
