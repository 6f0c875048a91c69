"""Password reset by emailed token, and password change for a logged-in user."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.accounts.helpers import authed, login, token_in, wait_for_mail
from tests.factories import PASSWORD, UserFactory, token_pair

RESET_URL = "/api/v1/auth/password-reset"
CONFIRM_URL = "/api/v1/auth/password-reset/confirm"
CHANGE_URL = "/api/v1/auth/password-change"
NEW = "a brand new pass phrase"


def _reset_token(client: APIClient, email: str) -> str:
    client.post(RESET_URL, {"email": email}, format="json")
    return token_in(wait_for_mail()[0])


def test_reset_answers_the_same_for_known_and_unknown_emails(celery_worker, api_client) -> None:
    user = UserFactory()

    known = api_client.post(RESET_URL, {"email": user.email}, format="json")
    unknown = api_client.post(RESET_URL, {"email": "nobody@example.org"}, format="json")
    messages = wait_for_mail(1)

    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert known.status_code == 202
    assert [m.to for m in messages] == [[user.email]]


def test_reset_confirm_sets_the_password_and_ends_every_login(celery_worker, api_client) -> None:
    user = UserFactory()
    earlier = token_pair(user)
    token = _reset_token(api_client, user.email)

    response = api_client.post(CONFIRM_URL, {"token": token, "new_password": NEW}, format="json")

    assert response.status_code == 200
    assert login(api_client, user.username, NEW).status_code == 200
    assert authed(earlier.access_token).get("/api/v1/users/me").status_code == 401
    refresh = api_client.post(
        "/api/v1/auth/token/refresh", {"refresh_token": earlier.refresh_token}, format="json"
    )
    assert refresh.status_code == 401


def test_reset_token_works_only_once(celery_worker, api_client) -> None:
    user = UserFactory()
    token = _reset_token(api_client, user.email)
    api_client.post(CONFIRM_URL, {"token": token, "new_password": NEW}, format="json")

    again = api_client.post(
        CONFIRM_URL, {"token": token, "new_password": "yet another phrase"}, format="json"
    )

    assert again.status_code == 400
    assert "token" in again.json()["error"]["details"]


def test_reset_token_expires(celery_worker, api_client, settings) -> None:
    user = UserFactory()
    token = _reset_token(api_client, user.email)
    settings.PASSWORD_RESET_TIMEOUT = -1

    response = api_client.post(CONFIRM_URL, {"token": token, "new_password": NEW}, format="json")

    assert response.status_code == 400


def test_weak_new_password_is_refused_and_the_token_still_works(celery_worker, api_client) -> None:
    user = UserFactory()
    token = _reset_token(api_client, user.email)

    weak = api_client.post(CONFIRM_URL, {"token": token, "new_password": "12345678"}, format="json")
    strong = api_client.post(CONFIRM_URL, {"token": token, "new_password": NEW}, format="json")

    assert weak.status_code == 400
    assert "new_password" in weak.json()["error"]["details"]
    assert strong.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["", "abc", "MDE5.x-y", "a.b.c", "\x00"])
def test_bad_reset_tokens_are_a_400(api_client, token: str) -> None:
    response = api_client.post(CONFIRM_URL, {"token": token, "new_password": NEW}, format="json")

    assert response.status_code == 400


@pytest.mark.django_db
def test_password_change_returns_a_fresh_pair_and_ends_earlier_logins() -> None:
    user = UserFactory()
    current, other = token_pair(user), token_pair(user)

    response = authed(current.access_token).post(
        CHANGE_URL, {"old_password": PASSWORD, "new_password": NEW}, format="json"
    )

    assert response.status_code == 200
    assert authed(response.json()["access_token"]).get("/api/v1/users/me").status_code == 200
    assert authed(current.access_token).get("/api/v1/users/me").status_code == 401
    assert authed(other.access_token).get("/api/v1/users/me").status_code == 401


@pytest.mark.django_db
def test_password_change_with_a_wrong_old_password_is_a_400_and_changes_nothing() -> None:
    user = UserFactory()
    pair = token_pair(user)

    response = authed(pair.access_token).post(
        CHANGE_URL, {"old_password": "not it at all", "new_password": NEW}, format="json"
    )

    assert response.status_code == 400
    assert "old_password" in response.json()["error"]["details"]
    assert authed(pair.access_token).get("/api/v1/users/me").status_code == 200


@pytest.mark.django_db
def test_password_change_needs_a_login(api_client) -> None:
    response = api_client.post(
        CHANGE_URL, {"old_password": PASSWORD, "new_password": NEW}, format="json"
    )

    assert response.status_code == 401


def test_password_change_mails_the_owner_a_notice(celery_worker) -> None:
    user = UserFactory()

    authed(token_pair(user).access_token).post(
        CHANGE_URL, {"old_password": PASSWORD, "new_password": NEW}, format="json"
    )
    [notice] = wait_for_mail()

    assert notice.to == [user.email]
    assert "password of your Agora account was just changed" in notice.body
    assert NEW not in notice.body


def test_password_reset_mails_the_owner_a_notice_after_the_link(celery_worker, api_client):
    user = UserFactory()
    token = _reset_token(api_client, user.email)

    api_client.post(CONFIRM_URL, {"token": token, "new_password": NEW}, format="json")
    messages = wait_for_mail(2)

    assert [m.subject for m in messages] == [
        "Reset your Agora password",
        "Your Agora password was changed",
    ]
