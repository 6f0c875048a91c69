"""API keys: shown once, stored hashed, act as their owner, revocable, last use recorded."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.models import ApiKey
from tests.accounts.helpers import authed
from tests.factories import AdminFactory, UserFactory, token_pair

pytestmark = pytest.mark.django_db
KEYS_URL = "/api/v1/auth/api-keys"


def _owner_client(user=None):
    user = user or UserFactory()
    return user, authed(token_pair(user).access_token)


def _key_client(key: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    return client


def test_created_key_is_shown_once_and_stored_only_as_a_hash() -> None:
    _, client = _owner_client()

    created = client.post(KEYS_URL, {"name": "Nightly export"}, format="json")
    listed = client.get(KEYS_URL).json()["results"]

    secret = created.json()["key"]
    assert created.status_code == 201
    assert secret.startswith("agora_")
    assert "key" not in listed[0]
    assert listed[0]["name"] == "Nightly export"
    stored = ApiKey.objects.get()
    assert secret not in (stored.key_hash, stored.prefix)
    assert len(stored.key_hash) == 64


def test_a_key_acts_as_its_owner_with_the_owners_role() -> None:
    admin, client = _owner_client(AdminFactory())
    secret = client.post(KEYS_URL, {"name": "ops"}, format="json").json()["key"]

    me = _key_client(secret).get("/api/v1/users/me")
    users = _key_client(secret).get("/api/v1/users")

    assert me.json()["id"] == str(admin.pk)
    assert users.status_code == 200


def test_last_use_is_recorded() -> None:
    _, client = _owner_client()
    secret = client.post(KEYS_URL, {"name": "ci"}, format="json").json()["key"]

    _key_client(secret).get("/api/v1/users/me")

    assert ApiKey.objects.get().last_used_at is not None


def test_a_revoked_key_stops_working() -> None:
    _, client = _owner_client()
    created = client.post(KEYS_URL, {"name": "ci"}, format="json").json()

    deleted = client.delete(f"{KEYS_URL}/{created['id']}")
    response = _key_client(created["key"]).get("/api/v1/users/me")

    assert deleted.status_code == 204
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"


@pytest.mark.parametrize(
    "key", ["agora_nope_nope", "garbage", "agora_" + "a" * 12 + "_" + "b" * 43, "a_b_c_d"]
)
def test_unknown_keys_are_a_401(key: str) -> None:
    response = _key_client(key).get("/api/v1/users/me")

    assert response.status_code == 401


def test_a_key_with_the_right_prefix_but_wrong_secret_is_a_401() -> None:
    _, client = _owner_client()
    secret = client.post(KEYS_URL, {"name": "ci"}, format="json").json()["key"]

    response = _key_client(secret[:-4] + "AAAA").get("/api/v1/users/me")

    assert response.status_code == 401


def test_a_deactivated_owners_key_stops_working() -> None:
    owner, client = _owner_client()
    secret = client.post(KEYS_URL, {"name": "ci"}, format="json").json()["key"]
    owner.is_active = False
    owner.save()

    assert _key_client(secret).get("/api/v1/users/me").status_code == 401


def test_a_key_cannot_mint_or_list_keys() -> None:
    _, client = _owner_client()
    secret = client.post(KEYS_URL, {"name": "ci"}, format="json").json()["key"]

    minted = _key_client(secret).post(KEYS_URL, {"name": "persist"}, format="json")
    listed = _key_client(secret).get(KEYS_URL)

    assert minted.status_code == 403
    assert listed.status_code == 403


def test_another_users_key_cannot_be_seen_or_revoked() -> None:
    _, owner_client = _owner_client()
    created = owner_client.post(KEYS_URL, {"name": "mine"}, format="json").json()
    _, stranger = _owner_client()

    deleted = stranger.delete(f"{KEYS_URL}/{created['id']}")
    listed = stranger.get(KEYS_URL).json()

    assert deleted.status_code == 404
    assert listed["count"] == 0
    assert ApiKey.objects.get().revoked_at is None


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_callers_get_401_on_the_key_list(api_client, method: str) -> None:
    """Listing was a 500: the members-write permission lets reads through for content."""
    response = getattr(api_client, method)(KEYS_URL, {"name": "ci"}, format="json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 101}, {"name": "nul\x00"}])
def test_bad_key_names_are_a_400(body) -> None:
    _, client = _owner_client()

    assert client.post(KEYS_URL, body, format="json").status_code == 400


def test_create_api_key_command_prints_a_working_key(capsys) -> None:
    owner = UserFactory()

    call_command("create_api_key", owner.username, name="backup job")

    secret = capsys.readouterr().out.strip()
    assert _key_client(secret).get("/api/v1/users/me").json()["id"] == str(owner.pk)
