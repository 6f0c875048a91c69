"""auth/sessions: a user sees their live logins and ends any one of them."""

from __future__ import annotations

import pytest

from tests.accounts.helpers import authed
from tests.factories import UserFactory, token_pair

pytestmark = pytest.mark.django_db
SESSIONS_URL = "/api/v1/auth/sessions"


def test_lists_only_the_callers_live_logins_marking_the_current_one() -> None:
    user = UserFactory()
    current = token_pair(user)
    token_pair(user)
    ended = token_pair(user)
    authed(ended.access_token).post(
        "/api/v1/auth/logout", {"refresh_token": ended.refresh_token}, format="json"
    )
    token_pair(UserFactory())

    body = authed(current.access_token).get(SESSIONS_URL).json()

    assert body["count"] == 2
    assert sorted(s["current"] for s in body["results"]) == [False, True]
    assert all(s["ip"] == "127.0.0.1" for s in body["results"])


def test_ending_another_login_kills_its_tokens_but_not_the_callers() -> None:
    user = UserFactory()
    current, other = token_pair(user), token_pair(user)
    client = authed(current.access_token)
    other_id = next(s["id"] for s in client.get(SESSIONS_URL).json()["results"] if not s["current"])

    response = client.delete(f"{SESSIONS_URL}/{other_id}")

    assert response.status_code == 204
    assert authed(other.access_token).get("/api/v1/users/me").status_code == 401
    assert client.get("/api/v1/users/me").status_code == 200


@pytest.mark.parametrize("session_id", ["nope", "00000000-0000-7000-8000-000000000000"])
def test_unknown_login_is_a_404(session_id: str) -> None:
    client = authed(token_pair(UserFactory()).access_token)

    assert client.delete(f"{SESSIONS_URL}/{session_id}").status_code == 404


def test_another_users_login_is_a_404_and_stays_alive() -> None:
    victim = token_pair(UserFactory())
    attacker = authed(token_pair(UserFactory()).access_token)
    victim_id = authed(victim.access_token).get(SESSIONS_URL).json()["results"][0]["id"]

    response = attacker.delete(f"{SESSIONS_URL}/{victim_id}")

    assert response.status_code == 404
    assert authed(victim.access_token).get("/api/v1/users/me").status_code == 200


def test_sessions_need_authentication(api_client) -> None:
    assert api_client.get(SESSIONS_URL).status_code == 401


def test_admin_ends_only_the_selected_login(client) -> None:
    from accounts.models import LoginSession
    from tests.factories import AdminFactory

    user = UserFactory()
    ended, kept = token_pair(user), token_pair(user)
    client.force_login(AdminFactory())
    selected = LoginSession.objects.filter(user=user).order_by("pk").first()

    client.post(
        "/admin/accounts/loginsession/", {"action": "revoke", "_selected_action": [selected.pk]}
    )

    assert authed(ended.access_token).get("/api/v1/users/me").status_code == 401
    assert authed(kept.access_token).get("/api/v1/users/me").status_code == 200
