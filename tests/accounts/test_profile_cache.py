"""Public profiles are read through the cache and refreshed by every write to them."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import AdminFactory, UserFactory, bearer

pytestmark = pytest.mark.django_db(transaction=True)


def profile(client: APIClient, user: User) -> Any:
    return client.get(f"/api/v1/users/{user.pk}")


def test_public_profile_is_cached_after_the_first_read(
    api_client: APIClient, django_assert_num_queries: Any
) -> None:
    user = UserFactory(display_name="Siobhán O'Brien")

    assert profile(api_client, user)["X-Cache"] == "miss"
    with django_assert_num_queries(0):
        second = profile(api_client, user)

    assert second["X-Cache"] == "hit"
    assert set(second.json()) == {"id", "username", "display_name", "bio", "date_joined"}


def test_own_profile_edit_refreshes_the_public_profile(api_client: APIClient) -> None:
    user = UserFactory()
    profile(api_client, user)
    owner = APIClient()
    owner.credentials(HTTP_AUTHORIZATION=bearer(user))

    owner.patch("/api/v1/users/me", {"bio": "Grüße 🌍"}, format="json")

    assert profile(api_client, user).json()["bio"] == "Grüße 🌍"


def test_owner_and_admin_bypass_the_cache_and_see_private_fields(api_client: APIClient) -> None:
    user = UserFactory()
    profile(api_client, user)
    admin = APIClient()
    admin.credentials(HTTP_AUTHORIZATION=bearer(AdminFactory()))

    shown = profile(admin, user)

    assert "X-Cache" not in shown
    assert shown.json()["email"] == user.email


def test_unknown_profile_is_404_and_not_cached(api_client: APIClient) -> None:
    missing = "0193a000-0000-7000-8000-000000000000"

    assert api_client.get(f"/api/v1/users/{missing}").status_code == 404
    assert api_client.get("/api/v1/users/not-a-uuid").status_code == 404
