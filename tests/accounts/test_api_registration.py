"""POST auth/register and auth/verify-email, with the real worker sending the emails."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import Role, User
from tests.accounts.helpers import login, token_in, wait_for_mail
from tests.factories import UserFactory

REGISTER_URL = "/api/v1/auth/register"
VERIFY_URL = "/api/v1/auth/verify-email"
STRONG = "tea kettle on the moor"


def _register(client: APIClient, **fields: str):
    body = {"email": "neu@example.org", "username": "neu", "password": STRONG, **fields}
    return client.post(REGISTER_URL, body, format="json")


@pytest.mark.parametrize("username", ["O'Brien", "Müller", "李雷", "zoë.ångström-2"])
def test_unicode_usernames_register_and_round_trip(celery_worker, api_client, username) -> None:
    response = _register(api_client, username=username, display_name=f"{username} 🌍")

    assert response.status_code == 202
    assert response.json() == {"status": "verification_sent"}
    user = User.objects.get(username=username)
    assert user.display_name == f"{username} 🌍"
    assert user.role == Role.GUEST
    assert not user.email_verified


def test_new_account_gets_a_verification_email_and_verifying_makes_a_user(
    celery_worker, api_client
) -> None:
    _register(api_client)
    [message] = wait_for_mail()

    response = api_client.post(VERIFY_URL, {"token": token_in(message)}, format="json")

    assert message.to == ["neu@example.org"]
    assert response.status_code == 200
    assert response.json()["role"] == "user"
    assert response.json()["email_verified"] is True


@override_settings(SITE_URL="https://agora.example.org")
def test_emailed_link_uses_the_site_url_not_the_host_header(celery_worker, api_client) -> None:
    _register(api_client, HTTP_HOST="evil.example")
    api_client.post(
        REGISTER_URL,
        {"email": "b@example.org", "username": "b", "password": STRONG},
        format="json",
        HTTP_X_FORWARDED_HOST="evil.example",
    )
    messages = wait_for_mail(2)

    assert all("https://agora.example.org/verify-email?token=" in m.body for m in messages)
    assert not any("evil.example" in m.body for m in messages)


def test_verification_token_works_only_once(celery_worker, api_client) -> None:
    _register(api_client)
    token = token_in(wait_for_mail()[0])
    api_client.post(VERIFY_URL, {"token": token}, format="json")

    again = api_client.post(VERIFY_URL, {"token": token}, format="json")

    assert again.status_code == 400
    assert again.json()["error"]["code"] == "validation_error"
    assert "token" in again.json()["error"]["details"]


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["", "garbage", "eyJ1IjoiMDE5In0:1x:forged", "a" * 5000])
def test_bad_verification_tokens_are_a_400(api_client, token: str) -> None:
    response = api_client.post(VERIFY_URL, {"token": token}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_password_reset_token_does_not_verify_an_email(celery_worker, api_client) -> None:
    user = UserFactory(role=Role.GUEST, email_verified=False)
    api_client.post("/api/v1/auth/password-reset", {"email": user.email}, format="json")
    reset_token = token_in(wait_for_mail()[0])

    response = api_client.post(VERIFY_URL, {"token": reset_token}, format="json")

    assert response.status_code == 400


def test_known_email_answers_exactly_like_a_new_one_and_mails_a_notice(
    celery_worker, api_client
) -> None:
    owner = UserFactory(email="taken@example.org")
    fresh = _register(api_client, email="fresh@example.org", username="fresh")
    known = _register(api_client, email="TAKEN@example.org", username="someone")
    messages = wait_for_mail(2)

    assert (fresh.status_code, fresh.json()) == (known.status_code, known.json())
    assert not User.objects.filter(username="someone").exists()
    notice = next(m for m in messages if m.to == [owner.email])
    assert "already" in notice.body
    assert "token=" not in notice.body


@pytest.mark.django_db
def test_taken_username_is_a_409_checked_case_insensitively(api_client) -> None:
    UserFactory(username="Jürgen")

    response = _register(api_client, username="jürgen", email="other@example.org")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "nul\x00byte"),
        ("username", "bell\x07"),
        ("username", "has space"),
        ("username", "rtl\u202eoverride"),
        ("display_name", "tab\x00here"),
        ("display_name", "esc\x1b[31m"),
        ("email", "not-an-email"),
        ("password", "short"),
        ("password", "password123"),
        ("username", "x" * 151),
    ],
)
def test_bad_fields_are_a_400_naming_the_field(api_client, field: str, value: str) -> None:
    response = _register(api_client, **{field: value})

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert not User.objects.exists()


@pytest.mark.django_db
def test_password_may_be_long_and_any_unicode(api_client) -> None:
    password = "пароль-密码-🔑 " * 8

    response = _register(api_client, password=password)

    assert response.status_code == 202
    assert User.objects.get(username="neu").check_password(password)


@pytest.mark.django_db
def test_role_and_flags_in_the_body_are_ignored(api_client) -> None:
    response = api_client.post(
        REGISTER_URL,
        {
            "email": "sneaky@example.org",
            "username": "sneaky",
            "password": STRONG,
            "role": "admin",
            "is_staff": True,
            "is_superuser": True,
            "email_verified": True,
        },
        format="json",
    )

    user = User.objects.get(username="sneaky")
    assert response.status_code == 202
    assert (user.role, user.is_staff, user.is_superuser, user.email_verified) == (
        "guest",
        False,
        False,
        False,
    )


@pytest.mark.django_db
def test_malformed_json_is_a_400_malformed_request(api_client) -> None:
    response = api_client.post(REGISTER_URL, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_guest_can_log_in_but_not_write(celery_worker, api_client) -> None:
    _register(api_client)
    wait_for_mail()
    access = login(api_client, "neu", STRONG).json()["access_token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")

    response = client.post("/api/v1/auth/api-keys", {"name": "k"}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "email_not_verified"


def test_no_email_is_sent_before_the_account_is_committed(celery_worker, api_client) -> None:
    _register(api_client, username="bad name")

    assert mail.outbox == []
