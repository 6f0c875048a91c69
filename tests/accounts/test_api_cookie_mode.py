"""Browser mode: the refresh token lives in a __Host- cookie and CSRF guards its use."""

from __future__ import annotations

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.accounts.helpers import login
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
REFRESH_URL = "/api/v1/auth/token/refresh"


@pytest.fixture
def browser() -> APIClient:
    return APIClient(enforce_csrf_checks=True)


def test_cookie_login_sets_a_host_only_secure_httponly_strict_cookie(browser) -> None:
    user = UserFactory()

    response = login(browser, user.username, cookie=True)

    cookie = response.cookies[settings.REFRESH_COOKIE_NAME]
    assert response.status_code == 200
    assert "refresh_token" not in response.json()
    assert response.json()["csrf_token"]
    assert settings.REFRESH_COOKIE_NAME.startswith("__Host-")
    assert (cookie["secure"], cookie["httponly"], cookie["samesite"], cookie["path"]) == (
        True,
        True,
        "Strict",
        "/",
    )
    assert not cookie["domain"]


def test_cookie_login_also_works_as_a_form_field(browser) -> None:
    user = UserFactory()

    response = browser.post(
        "/api/v1/auth/token",
        {
            "grant_type": "password",
            "username": user.username,
            "password": "correct horse battery",
            "cookie": "true",
        },
        format="multipart",
    )

    assert settings.REFRESH_COOKIE_NAME in response.cookies


def test_refresh_from_the_cookie_without_the_csrf_header_is_a_403(browser) -> None:
    login(browser, UserFactory().username, cookie=True)

    response = browser.post(REFRESH_URL, {}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_refresh_from_the_cookie_with_the_csrf_header_rotates_the_cookie(browser) -> None:
    first = login(browser, UserFactory().username, cookie=True)
    old_cookie = first.cookies[settings.REFRESH_COOKIE_NAME].value

    response = browser.post(
        REFRESH_URL, {}, format="json", HTTP_X_CSRFTOKEN=first.json()["csrf_token"]
    )

    assert response.status_code == 200
    assert response.json()["access_token"]
    assert response.cookies[settings.REFRESH_COOKIE_NAME].value != old_cookie


def test_logout_from_the_cookie_needs_csrf_and_clears_the_cookie(browser) -> None:
    first = login(browser, UserFactory().username, cookie=True)
    refused = browser.post("/api/v1/auth/logout", {}, format="json")

    response = browser.post(
        "/api/v1/auth/logout", {}, format="json", HTTP_X_CSRFTOKEN=first.json()["csrf_token"]
    )

    assert refused.status_code == 403
    assert response.status_code == 204
    assert response.cookies[settings.REFRESH_COOKIE_NAME].value == ""


def test_a_forged_csrf_token_is_refused(browser) -> None:
    login(browser, UserFactory().username, cookie=True)

    response = browser.post(REFRESH_URL, {}, format="json", HTTP_X_CSRFTOKEN="x" * 32)

    assert response.status_code == 403
