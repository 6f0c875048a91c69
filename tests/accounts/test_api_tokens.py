"""The token endpoints: password grant, rotation with theft detection, logout, tampering."""

from __future__ import annotations

import threading
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import LoginSession, User
from audits.models import AuditRecord
from tests.accounts.helpers import TOKEN_URL, authed, login
from tests.factories import PASSWORD, UserFactory, token_pair

pytestmark = pytest.mark.django_db
REFRESH_URL = "/api/v1/auth/token/refresh"
LOGOUT_URL = "/api/v1/auth/logout"
ME_URL = "/api/v1/users/me"


def _refresh(client: APIClient, token: str):
    return client.post(REFRESH_URL, {"refresh_token": token}, format="json")


def test_password_grant_as_json_returns_an_oauth2_token_pair(api_client) -> None:
    user = UserFactory()

    response = login(api_client, user.username)

    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 300
    assert response["Cache-Control"] == "no-store"
    assert authed(body["access_token"]).get(ME_URL).json()["id"] == str(user.pk)


def test_password_grant_as_a_form_works_like_swagger_sends_it(api_client) -> None:
    user = UserFactory()

    response = api_client.post(
        TOKEN_URL,
        {"grant_type": "password", "username": user.username, "password": PASSWORD},
        format="multipart",
    )
    form = api_client.generic(
        "POST",
        TOKEN_URL,
        f"grant_type=password&username={user.username}&password={PASSWORD.replace(' ', '+')}",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert form.status_code == 200


def test_email_logs_in_case_insensitively(api_client) -> None:
    UserFactory(email="Anna.Mueller@Example.org")

    response = login(api_client, "anna.mueller@example.org")

    assert response.status_code == 200


def test_grant_type_other_than_password_is_a_400(api_client) -> None:
    user = UserFactory()

    response = login(api_client, user.username, grant_type="client_credentials")

    assert response.status_code == 400
    assert "grant_type" in response.json()["error"]["details"]


def test_wrong_password_unknown_user_and_inactive_user_fail_identically(api_client) -> None:
    user = UserFactory()
    inactive = UserFactory(is_active=False)

    answers = [
        login(api_client, user.username, "wrong password"),
        login(api_client, "nobody-at-all"),
        login(api_client, inactive.username),
    ]

    bodies = [
        (a.status_code, a.json()["error"]["code"], a.json()["error"]["message"]) for a in answers
    ]
    assert bodies == [(401, "invalid_credentials", "Invalid username or password.")] * 3
    assert all(a["WWW-Authenticate"].startswith("Bearer") for a in answers)


def test_refresh_rotates_and_the_old_refresh_token_is_dead(api_client) -> None:
    first = token_pair(UserFactory())

    rotated = _refresh(api_client, first.refresh_token)
    again = _refresh(api_client, first.refresh_token)

    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != first.refresh_token
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "token_invalid"


def test_refresh_hands_out_tokens_of_the_same_user_and_shows_when_the_login_was_refreshed(
    api_client,
) -> None:
    UserFactory()  # someone else, signed up first
    user = UserFactory()
    first = token_pair(user)

    rotated = _refresh(api_client, first.refresh_token).json()

    me = authed(rotated["access_token"]).get(ME_URL).json()
    sessions = authed(rotated["access_token"]).get("/api/v1/auth/sessions").json()
    assert me["id"] == str(user.pk)
    assert [s["refreshed_at"] is not None for s in sessions["results"]] == [True]


def test_a_login_past_its_maximum_age_cannot_be_refreshed_and_that_is_no_theft(
    api_client,
) -> None:
    user = UserFactory()
    first = token_pair(user)
    LoginSession.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = _refresh(api_client, first.refresh_token)

    assert response.status_code == 401
    assert LoginSession.objects.get(user=user).revoked_at is None
    assert not AuditRecord.objects.filter(action="token.reuse_detected").exists()


def test_refresh_for_a_deactivated_user_ends_every_login_of_theirs(api_client) -> None:
    user = UserFactory()
    first, other = token_pair(user), token_pair(user)
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = _refresh(api_client, first.refresh_token)

    assert response.status_code == 401
    assert list(LoginSession.objects.filter(user=user).values_list("revoke_reason", flat=True)) == [
        "deactivated",
        "deactivated",
    ]
    assert _refresh(api_client, other.refresh_token).status_code == 401


def test_reusing_a_rotated_token_revokes_the_whole_login(api_client) -> None:
    first = token_pair(UserFactory())
    second = _refresh(api_client, first.refresh_token).json()

    _refresh(api_client, first.refresh_token)  # the thief, or the victim after theft

    assert _refresh(api_client, second["refresh_token"]).status_code == 401
    assert authed(second["access_token"]).get(ME_URL).status_code == 401
    assert LoginSession.objects.get().revoke_reason == "token_reuse"


def test_reuse_revokes_only_that_login_not_the_users_other_logins(api_client) -> None:
    user = UserFactory()
    stolen, other = token_pair(user), token_pair(user)
    _refresh(api_client, stolen.refresh_token)

    _refresh(api_client, stolen.refresh_token)

    assert authed(other.access_token).get(ME_URL).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refreshes_with_one_token_yield_exactly_one_success() -> None:
    pair = token_pair(UserFactory())
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def refresh() -> None:
        barrier.wait(timeout=10)
        try:
            statuses.append(_refresh(APIClient(), pair.refresh_token).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [200] + [401] * 7


def test_logout_kills_the_refresh_token_and_its_access_tokens(api_client) -> None:
    pair = token_pair(UserFactory())

    response = api_client.post(LOGOUT_URL, {"refresh_token": pair.refresh_token}, format="json")

    assert response.status_code == 204
    assert _refresh(api_client, pair.refresh_token).status_code == 401
    assert authed(pair.access_token).get(ME_URL).status_code == 401


def test_logout_is_recorded_as_a_logout_and_ends_only_that_login(api_client) -> None:
    user = UserFactory()
    ended, kept = token_pair(user), token_pair(user)
    assert authed(ended.access_token).get(ME_URL).status_code == 200  # its login now cached

    api_client.post(LOGOUT_URL, {"refresh_token": ended.refresh_token}, format="json")
    again = api_client.post(LOGOUT_URL, {"refresh_token": ended.refresh_token}, format="json")

    sessions = LoginSession.objects.filter(user=user)
    assert sorted((s.revoked_at is None, s.revoke_reason) for s in sessions) == [
        (False, "logout"),
        (True, ""),
    ]
    assert again.status_code == 401
    assert authed(ended.access_token).get(ME_URL).status_code == 401
    assert authed(kept.access_token).get(ME_URL).status_code == 200


def test_logout_with_a_rotated_away_refresh_token_is_reuse_and_revokes_the_login(
    api_client,
) -> None:
    user = UserFactory()
    first = token_pair(user)
    second = _refresh(api_client, first.refresh_token).json()

    response = api_client.post(LOGOUT_URL, {"refresh_token": first.refresh_token}, format="json")

    session = LoginSession.objects.get(user=user)
    assert response.status_code == 401
    assert session.revoke_reason == "token_reuse"
    assert (
        AuditRecord.objects.filter(action="token.reuse_detected", target_id=str(session.pk)).count()
        == 1
    )
    assert _refresh(api_client, second["refresh_token"]).status_code == 401


def test_logout_all_kills_every_login_of_the_caller(api_client) -> None:
    user = UserFactory()
    first, second = token_pair(user), token_pair(user)
    bystander = token_pair(UserFactory())

    response = authed(first.access_token).post("/api/v1/auth/logout-all")

    assert response.status_code == 204
    assert authed(second.access_token).get(ME_URL).status_code == 401
    assert _refresh(api_client, second.refresh_token).status_code == 401
    assert authed(bystander.access_token).get(ME_URL).status_code == 200


def test_logout_all_needs_authentication(api_client) -> None:
    response = api_client.post("/api/v1/auth/logout-all")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_deactivated_users_access_token_stops_working_at_once(api_client) -> None:
    user = UserFactory()
    pair = token_pair(user)
    user.is_active = False
    user.save()

    assert authed(pair.access_token).get(ME_URL).status_code == 401
    assert _refresh(api_client, pair.refresh_token).status_code == 401


def _forge(claims: dict, *, key: str = settings.SECRET_KEY, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda c: jwt.encode(c, None, algorithm="none"), id="alg-none"),
        pytest.param(lambda c: _forge(c, key="not-the-key-" * 4), id="wrong-key"),
        pytest.param(lambda c: _forge({**c, "aud": "someone-else"}), id="wrong-aud"),
        pytest.param(lambda c: _forge({k: v for k, v in c.items() if k != "aud"}), id="no-aud"),
        pytest.param(lambda c: _forge({**c, "exp": c["iat"] - 10}), id="expired"),
        pytest.param(lambda c: _forge({**c, "token_type": "refresh"}), id="wrong-type"),
        pytest.param(
            lambda c: _forge({**c, "sid": "00000000-0000-7000-8000-000000000000"}),
            id="other-session",
        ),
        pytest.param(lambda c: _forge({k: v for k, v in c.items() if k != "sid"}), id="no-session"),
        pytest.param(lambda c: _forge(c, algorithm="HS512"), id="other-algorithm"),
        pytest.param(lambda c: "not.a.jwt", id="garbage"),
    ],
)
def test_tampered_access_tokens_are_refused(tamper) -> None:
    pair = token_pair(UserFactory())
    claims = _claims_of(pair.access_token)

    response = authed(tamper(claims)).get(ME_URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"


def test_edited_claims_with_the_original_signature_are_refused() -> None:
    victim, attacker = UserFactory(), UserFactory()
    header, _payload, signature = token_pair(attacker).access_token.split(".")
    victim_payload = jwt.utils.base64url_encode(
        jwt.api_jws.json.dumps(
            {**_claims_of(token_pair(attacker).access_token), "sub": str(victim.pk)}
        ).encode()
    ).decode()

    response = authed(f"{header}.{victim_payload}.{signature}").get(ME_URL)

    assert response.status_code == 401


def test_an_access_token_is_refused_as_a_refresh_token(api_client) -> None:
    pair = token_pair(UserFactory())

    response = _refresh(api_client, pair.access_token)

    assert response.status_code == 401


def test_a_refresh_token_is_refused_as_an_access_token() -> None:
    pair = token_pair(UserFactory())

    assert authed(pair.refresh_token).get(ME_URL).status_code == 401


def test_an_expired_refresh_token_is_refused(api_client) -> None:
    pair = token_pair(UserFactory())
    token = RefreshToken(pair.refresh_token)
    token.set_exp(lifetime=timedelta(seconds=-1))

    assert _refresh(api_client, str(token)).status_code == 401


def test_a_token_without_a_login_session_from_simplejwt_alone_is_refused() -> None:
    user = UserFactory()

    assert authed(str(AccessToken.for_user(user))).get(ME_URL).status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "validation_error"),
        ({"refresh_token": ""}, 400, "validation_error"),
        ({"refresh_token": 42}, 401, "token_invalid"),
        ({"refresh_token": "a.b.c"}, 401, "token_invalid"),
    ],
)
def test_refresh_with_a_missing_or_bogus_token_is_refused(api_client, body, status, code) -> None:
    response = api_client.post(REFRESH_URL, body, format="json")

    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_auth_events_are_logged_with_the_request_id_and_no_secret(api_client, caplog) -> None:
    user = UserFactory()
    caplog.set_level("INFO", logger="agora.auth")

    login(api_client, user.username, "wrong password", HTTP_X_REQUEST_ID="audit-me-1")
    login(api_client, user.username, HTTP_X_REQUEST_ID="audit-me-2")

    events = {r.getMessage(): r for r in caplog.records if r.name == "agora.auth"}
    assert events["auth.login_failed"].request_id == "audit-me-1"
    assert events["auth.login_failed"].user == str(user.pk)
    assert events["auth.login_succeeded"].request_id == "audit-me-2"
    assert not any(PASSWORD in repr(r.__dict__) for r in caplog.records)
