"""Account events leave one audit record each, with who, from where, and which request."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from celery import shared_task
from django.db import transaction
from rest_framework.test import APIClient

from accounts.models import ApiKey, Role, User
from accounts.tokens import email_verification_token_make, password_reset_token_make
from audits.models import AuditRecord
from config.core.context import request_id_var
from config.core.task_queue import enqueue_on_commit
from tests.accounts.helpers import authed, login
from tests.audits.helpers import (
    ACCOUNT_EVENT_ORIGIN,
    assert_account_event_origin,
    only_record,
    records_of,
)
from tests.factories import PASSWORD, AdminFactory, GuestFactory, UserFactory, token_pair

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "ein ganz neues Passwort"


def _bearer(user: User) -> APIClient:
    return authed(token_pair(user).access_token)


def test_registration_records_the_new_user(api_client) -> None:
    api_client.post(
        "/api/v1/auth/register",
        {"email": "lei@example.org", "username": "李雷", "password": PASSWORD},
        format="json",
        **ACCOUNT_EVENT_ORIGIN,
    )

    user = User.objects.get(username="李雷")
    found = only_record("user.registered")
    assert_account_event_origin(found, actor=user, target=str(user.pk))
    assert found.changes["email"] == [None, "lei@example.org"]
    assert found.changes["role"] == [None, "guest"]


def test_a_sign_up_with_a_known_email_is_recorded_against_the_owner(api_client) -> None:
    owner = UserFactory()

    api_client.post(
        "/api/v1/auth/register",
        {"email": owner.email, "username": "someone-new", "password": PASSWORD},
        format="json",
        **ACCOUNT_EVENT_ORIGIN,
    )

    assert not records_of("user.registered")
    found = only_record("user.duplicate_registration")
    assert_account_event_origin(found, actor=None, target=str(owner.pk))
    assert found.changes == {"username": [None, "someone-new"]}


def test_email_verification_is_recorded(api_client) -> None:
    guest = GuestFactory()

    api_client.post(
        "/api/v1/auth/verify-email",
        {"token": email_verification_token_make(guest)},
        format="json",
        **ACCOUNT_EVENT_ORIGIN,
    )

    found = only_record("user.email_verified")
    assert_account_event_origin(found, actor=guest, target=str(guest.pk))
    assert found.changes == {"email_verified": [False, True], "role": ["guest", "user"]}


def test_a_role_change_is_recorded_with_the_admin_as_actor() -> None:
    admin, user = AdminFactory(), UserFactory()

    _bearer(admin).patch(
        f"/api/v1/users/{user.pk}", {"role": "admin"}, format="json", **ACCOUNT_EVENT_ORIGIN
    )

    found = only_record("user.role_changed")
    assert_account_event_origin(found, actor=admin, target=str(user.pk))
    assert found.changes == {"role": ["user", "admin"], "is_staff": [False, True]}


def test_a_deactivation_is_recorded() -> None:
    admin, user = AdminFactory(), UserFactory()

    _bearer(admin).patch(
        f"/api/v1/users/{user.pk}", {"is_active": False}, format="json", **ACCOUNT_EVENT_ORIGIN
    )

    found = only_record("user.deactivated")
    assert_account_event_origin(found, actor=admin, target=str(user.pk))
    assert found.changes == {"is_active": [True, False]}


def test_a_reactivation_is_recorded() -> None:
    admin, user = AdminFactory(), UserFactory(is_active=False)

    _bearer(admin).patch(f"/api/v1/users/{user.pk}", {"is_active": True}, format="json")

    assert only_record("user.reactivated").changes == {"is_active": [False, True]}


def test_a_refused_role_change_records_nothing() -> None:
    admin = AdminFactory()

    response = _bearer(admin).patch(f"/api/v1/users/{admin.pk}", {"role": Role.USER}, format="json")

    assert response.status_code == 400
    assert not AuditRecord.objects.exists()


def test_a_profile_edit_is_recorded() -> None:
    user = UserFactory(display_name="before")

    _bearer(user).patch(
        "/api/v1/users/me", {"display_name": "Seán"}, format="json", **ACCOUNT_EVENT_ORIGIN
    )

    found = only_record("user.updated")
    assert_account_event_origin(found, actor=user, target=str(user.pk))
    assert found.changes == {"display_name": ["before", "Seán"]}


def test_a_password_change_is_recorded_without_the_password() -> None:
    user = UserFactory()

    response = _bearer(user).post(
        "/api/v1/auth/password-change",
        {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
        **ACCOUNT_EVENT_ORIGIN,
    )

    assert response.status_code == 200
    found = only_record("user.password_changed")
    assert_account_event_origin(found, actor=user, target=str(user.pk))
    assert found.changes == {}


def test_a_password_reset_is_recorded(api_client) -> None:
    user = UserFactory()

    api_client.post(
        "/api/v1/auth/password-reset/confirm",
        {"token": password_reset_token_make(user), "new_password": NEW_PASSWORD},
        format="json",
        **ACCOUNT_EVENT_ORIGIN,
    )

    found = only_record("user.password_reset")
    assert_account_event_origin(found, actor=user, target=str(user.pk))
    assert found.changes == {}


def test_a_weak_reset_password_records_nothing(api_client) -> None:
    user = UserFactory()

    response = api_client.post(
        "/api/v1/auth/password-reset/confirm",
        {"token": password_reset_token_make(user), "new_password": "password"},
        format="json",
    )

    assert response.status_code == 400
    assert not AuditRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_reused_refresh_token_is_recorded_and_survives_the_401() -> None:
    user = UserFactory()
    pair = token_pair(user)
    client = APIClient()
    client.post("/api/v1/auth/token/refresh", {"refresh_token": pair.refresh_token}, format="json")

    reused = client.post(
        "/api/v1/auth/token/refresh",
        {"refresh_token": pair.refresh_token},
        format="json",
        **ACCOUNT_EVENT_ORIGIN,
    )

    assert reused.status_code == 401
    found = only_record("token.reuse_detected")
    session = user.login_sessions.get()
    assert (found.actor_id, found.target_type, found.target_id) == (
        user.pk,
        "token",
        str(session.pk),
    )
    assert (found.request_id, found.user_agent) == ("req-audit-1", "Agora-Test/1.0 (Zoë)")
    assert found.changes == {"revoked": [False, True]}


def test_api_key_creation_and_revocation_are_recorded() -> None:
    user = UserFactory()
    client = _bearer(user)

    created = client.post("/api/v1/auth/api-keys", {"name": "Nightly export"}, format="json")
    client.delete(f"/api/v1/auth/api-keys/{created.json()['id']}", **ACCOUNT_EVENT_ORIGIN)

    key = ApiKey.objects.get()
    made, revoked = only_record("api_key.created"), only_record("api_key.revoked")
    assert (made.actor_id, made.target_type, made.target_id) == (user.pk, "api_key", str(key.pk))
    assert made.changes["name"] == [None, "Nightly export"]
    assert (revoked.actor_id, revoked.target_id, revoked.request_id) == (
        user.pk,
        str(key.pk),
        "req-audit-1",
    )


def test_an_admin_revoking_a_key_in_the_admin_site_is_the_actor(client) -> None:
    owner, admin = UserFactory(), AdminFactory()
    client_of_owner = _bearer(owner)
    client_of_owner.post("/api/v1/auth/api-keys", {"name": "leaked"}, format="json")
    client.force_login(admin)

    client.post(
        "/admin/accounts/apikey/",
        {"action": "revoke", "_selected_action": [ApiKey.objects.get().pk]},
    )

    assert only_record("api_key.revoked").actor_id == admin.pk


def test_no_secret_ever_reaches_an_audit_record(api_client) -> None:
    user = UserFactory()
    login(api_client, user.username, "a wrong pass phrase")
    pair = token_pair(user)
    api_client.post("/api/v1/auth/token/refresh", {"refresh_token": pair.refresh_token})
    api_client.post("/api/v1/auth/token/refresh", {"refresh_token": pair.refresh_token})
    key = _bearer(user).post("/api/v1/auth/api-keys", {"name": "k"}, format="json").json()["key"]
    _bearer(user).post(
        "/api/v1/auth/password-change",
        {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )
    user.refresh_from_db()

    stored = json.dumps(list(AuditRecord.objects.values()), default=str)

    assert AuditRecord.objects.count() >= 4
    for secret in (PASSWORD, "a wrong pass phrase", NEW_PASSWORD, key, pair.refresh_token):
        assert secret not in stored
    assert user.password not in stored


# --- records written by background tasks ----------------------------------------------------


@shared_task(name="tests.audits.record_from_task", ignore_result=True)
def record_from_task(*, target_id: str) -> None:
    from audits.services import audit_record_write

    audit_record_write(action="export.finished", target_type="export", target_id=target_id)


def _wait_for(action: str, timeout: float = 15.0) -> list[AuditRecord]:
    deadline = time.monotonic() + timeout
    while not AuditRecord.objects.filter(action=action).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return records_of(action)


def test_a_record_written_by_a_task_carries_the_enqueuing_request_id(celery_worker) -> None:
    token = request_id_var.set("req-that-enqueued")
    try:
        with transaction.atomic():
            enqueue_on_commit(record_from_task, target_id="export-1")
    finally:
        request_id_var.reset(token)

    found = _wait_for("export.finished")

    assert [(r.target_id, r.request_id) for r in found] == [("export-1", "req-that-enqueued")]


# --- the admin site's user pages ------------------------------------------------------------


def _user_form(client, user: User) -> dict[str, Any]:
    page = client.get(f"/admin/accounts/user/{user.pk}/change/")
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        {
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
            "groups": [],
            "user_permissions": [],
        }
    )
    return data


def test_other_fields_saved_in_the_admin_site_are_recorded_as_user_updated(client) -> None:
    admin, user = AdminFactory(), UserFactory(display_name="before")
    client.force_login(admin)
    data = {**_user_form(client, user), "display_name": "Ελένη", "is_staff": "on"}

    client.post(f"/admin/accounts/user/{user.pk}/change/", data, **ACCOUNT_EVENT_ORIGIN)

    found = only_record("user.updated")
    assert_account_event_origin(found, actor=admin, target=str(user.pk))
    assert found.changes == {"display_name": ["before", "Ελένη"], "is_staff": [False, True]}
    assert not records_of("user.role_changed")


def test_a_role_change_in_the_admin_site_is_recorded_once(client) -> None:
    admin, user = AdminFactory(), UserFactory()
    client.force_login(admin)
    data = {**_user_form(client, user), "role": "admin"}

    client.post(f"/admin/accounts/user/{user.pk}/change/", data)

    assert only_record("user.role_changed").changes["role"] == ["user", "admin"]
    assert not records_of("user.updated")


def test_an_account_added_in_the_admin_site_is_recorded(client) -> None:
    admin = AdminFactory()
    client.force_login(admin)

    client.post(
        "/admin/accounts/user/add/",
        {
            "username": "jürgen",
            "email": "juergen@example.org",
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )

    created = User.objects.get(username="jürgen")
    found = only_record("user.created")
    assert (found.actor_id, found.target_id) == (admin.pk, str(created.pk))
    assert found.changes["email"] == [None, "juergen@example.org"]
    assert NEW_PASSWORD not in json.dumps(found.changes)


def test_a_password_set_in_the_admin_site_is_recorded(client) -> None:
    admin, user = AdminFactory(), UserFactory()
    client.force_login(admin)

    client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    found = only_record("user.password_changed")
    assert (found.actor_id, found.target_id, found.changes) == (admin.pk, str(user.pk), {})


def test_a_refused_admin_password_form_records_nothing(client) -> None:
    client.force_login(AdminFactory())
    user = UserFactory()

    client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": "different"},
    )

    assert not records_of("user.password_changed")
