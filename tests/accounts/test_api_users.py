"""users/me, public profiles, and the admin's user management (RBAC per API.md)."""

from __future__ import annotations

import pytest

from accounts.models import Role, User
from tests.accounts.helpers import authed
from tests.factories import AdminFactory, GuestFactory, UserFactory, token_pair

pytestmark = pytest.mark.django_db
ME_URL = "/api/v1/users/me"
USERS_URL = "/api/v1/users"


def _client(user: User):
    return authed(token_pair(user).access_token)


@pytest.mark.parametrize("factory", [GuestFactory, UserFactory, AdminFactory])
def test_every_role_reads_its_own_profile(factory) -> None:
    user = factory()

    body = _client(user).get(ME_URL).json()

    assert body["id"] == str(user.pk)
    assert body["email"] == user.email
    assert body["role"] == user.role


def test_me_needs_authentication(api_client) -> None:
    response = api_client.get(ME_URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_profile_edit_round_trips_unicode() -> None:
    user = UserFactory()

    response = _client(user).patch(
        ME_URL,
        {"display_name": "Seán O'Brien 李雷", "bio": "Grüße 🌍\nzweite Zeile"},
        format="json",
    )

    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.display_name, user.bio) == ("Seán O'Brien 李雷", "Grüße 🌍\nzweite Zeile")


def test_role_staff_and_verification_in_a_profile_edit_are_ignored() -> None:
    user = GuestFactory()

    response = _client(user).patch(
        ME_URL,
        {
            "role": "admin",
            "is_staff": True,
            "is_superuser": True,
            "email_verified": True,
            "bio": "hi",
        },
        format="json",
    )

    user.refresh_from_db()
    assert response.status_code == 200
    assert (user.role, user.is_staff, user.is_superuser, user.email_verified, user.bio) == (
        "guest",
        False,
        False,
        False,
        "hi",
    )


@pytest.mark.parametrize("value", ["nul\x00", "bell\x07", "x" * 151])
def test_bad_display_names_are_a_400_and_store_nothing(value: str) -> None:
    user = UserFactory(display_name="before")

    response = _client(user).patch(ME_URL, {"display_name": value}, format="json")

    assert response.status_code == 400
    assert "display_name" in response.json()["error"]["details"]
    user.refresh_from_db()
    assert user.display_name == "before"


def test_public_profile_shows_only_public_fields_to_strangers(api_client) -> None:
    user = UserFactory()

    body = api_client.get(f"{USERS_URL}/{user.pk}").json()

    assert set(body) == {"id", "username", "display_name", "bio", "date_joined"}


@pytest.mark.parametrize("viewer_factory", [UserFactory, GuestFactory])
def test_other_users_do_not_see_email_or_role(viewer_factory) -> None:
    user = UserFactory()

    body = _client(viewer_factory()).get(f"{USERS_URL}/{user.pk}").json()

    assert "email" not in body
    assert "role" not in body


def test_the_user_and_admins_see_email_and_role() -> None:
    user = UserFactory()

    own = _client(user).get(f"{USERS_URL}/{user.pk}").json()
    admin = _client(AdminFactory()).get(f"{USERS_URL}/{user.pk}").json()

    assert own["email"] == admin["email"] == user.email
    assert own["role"] == admin["role"] == "user"


@pytest.mark.parametrize("user_id", ["not-a-uuid", "00000000-0000-7000-8000-000000000000"])
def test_unknown_user_is_a_404(api_client, user_id: str) -> None:
    response = api_client.get(f"{USERS_URL}/{user_id}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("factory", [GuestFactory, UserFactory])
def test_non_admins_cannot_list_users(factory) -> None:
    response = _client(factory()).get(USERS_URL)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_admin_lists_users_paginated() -> None:
    admin = AdminFactory()
    UserFactory.create_batch(4)

    body = _client(admin).get(USERS_URL, {"limit": 2}).json()

    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert body["next"]
    assert body["previous"] is None


@pytest.mark.parametrize("limit", [10, 50])
def test_user_list_query_count_does_not_grow_with_page_size(
    django_assert_num_queries, limit: int
) -> None:
    admin = AdminFactory()
    UserFactory.create_batch(limit)
    client = _client(admin)

    with django_assert_num_queries(3):  # auth (user + session), count, page
        client.get(USERS_URL, {"limit": limit})


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": -1}, {"limit": "x"}, {"offset": -1}])
def test_bad_pagination_is_a_400(params) -> None:
    response = _client(AdminFactory()).get(USERS_URL, params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_a_huge_limit_is_clamped_to_50() -> None:
    admin = AdminFactory()
    UserFactory.create_batch(55)

    body = _client(admin).get(USERS_URL, {"limit": 1000}).json()

    assert len(body["results"]) == 50


def test_role_change_by_an_admin_takes_effect_on_the_users_next_request() -> None:
    user = UserFactory()
    member_client = _client(user)
    assert member_client.get(USERS_URL).status_code == 403

    response = _client(AdminFactory()).patch(
        f"{USERS_URL}/{user.pk}", {"role": "admin"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert member_client.get(USERS_URL).status_code == 200


def test_non_admins_cannot_change_roles() -> None:
    user = UserFactory()

    response = _client(user).patch(f"{USERS_URL}/{user.pk}", {"role": "admin"}, format="json")

    assert response.status_code == 403
    user.refresh_from_db()
    assert user.role == Role.USER


def test_deactivation_by_an_admin_ends_the_users_tokens_at_once() -> None:
    user = UserFactory()
    member_client = _client(user)

    _client(AdminFactory()).patch(f"{USERS_URL}/{user.pk}", {"is_active": False}, format="json")

    assert member_client.get(ME_URL).status_code == 401


def test_demoting_a_superuser_also_drops_superuser_status() -> None:
    other_admin = AdminFactory()

    response = _client(AdminFactory()).patch(
        f"{USERS_URL}/{other_admin.pk}", {"role": "user"}, format="json"
    )

    other_admin.refresh_from_db()
    assert response.status_code == 200
    assert (other_admin.role, other_admin.is_superuser, other_admin.is_staff) == (
        "user",
        False,
        False,
    )


@pytest.mark.parametrize("change", [{"role": "user"}, {"is_active": False}])
def test_admins_cannot_demote_or_deactivate_themselves(change) -> None:
    admin = AdminFactory()

    response = _client(admin).patch(f"{USERS_URL}/{admin.pk}", change, format="json")

    assert response.status_code == 400
    admin.refresh_from_db()
    assert (admin.role, admin.is_active) == ("admin", True)


def test_an_unknown_role_is_a_400() -> None:
    user = UserFactory()

    response = _client(AdminFactory()).patch(
        f"{USERS_URL}/{user.pk}", {"role": "overlord"}, format="json"
    )

    assert response.status_code == 400
    assert "role" in response.json()["error"]["details"]


def test_role_change_in_the_admin_site_goes_through_the_service(client) -> None:
    user = UserFactory()
    client.force_login(AdminFactory())
    pair = token_pair(user)
    page = client.get(f"/admin/accounts/user/{user.pk}/change/")
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        {
            "is_active": "",
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
            "role": "user",
            "groups": [],
            "user_permissions": [],
        }
    )

    client.post(f"/admin/accounts/user/{user.pk}/change/", data)

    user.refresh_from_db()
    assert user.is_active is False
    assert authed(pair.access_token).get(ME_URL).status_code == 401


@pytest.mark.parametrize(
    "page",
    [
        "/admin/accounts/user/",
        "/admin/accounts/apikey/",
        "/admin/accounts/loginfailurecounter/",
        "/admin/accounts/loginsession/",
    ],
)
def test_admin_pages_for_accounts_load(client, page: str) -> None:
    user = UserFactory()
    token_pair(user)
    client.force_login(AdminFactory())

    response = client.get(page)

    assert response.status_code == 200
