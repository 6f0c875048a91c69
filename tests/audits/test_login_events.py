"""Logins, login failures, lockouts and unlocks leave their audit records, and a flood of
attempts does not flood the trail."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import LoginFailureCounter
from audits.chain import chain_verify
from tests.accounts.helpers import login
from tests.audits.helpers import (
    ACCOUNT_EVENT_ORIGIN,
    assert_account_event_origin,
    only_record,
    records_of,
)
from tests.factories import PASSWORD, AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_login_is_recorded(api_client) -> None:
    user = UserFactory()

    login(api_client, user.username, **ACCOUNT_EVENT_ORIGIN)

    assert_account_event_origin(
        only_record("user.login_succeeded"), actor=user, target=str(user.pk)
    )


@pytest.mark.django_db(transaction=True)
def test_a_failed_login_is_recorded_and_survives_the_401() -> None:
    user = UserFactory()

    response = login(APIClient(), user.username, "wrong password", **ACCOUNT_EVENT_ORIGIN)

    assert response.status_code == 401
    assert_account_event_origin(only_record("user.login_failed"), actor=None, target=str(user.pk))


@pytest.mark.django_db(transaction=True)
def test_a_failed_login_for_an_unknown_name_records_the_name_tried() -> None:
    response = login(APIClient(), "ghost-müller", "wrong password", **ACCOUNT_EVENT_ORIGIN)

    assert response.status_code == 401
    assert_account_event_origin(only_record("user.login_failed"), actor=None, target="ghost-müller")


@pytest.mark.django_db(transaction=True)
def test_a_lockout_is_recorded_once_and_survives_the_429() -> None:
    user = UserFactory()
    client = APIClient()
    statuses = [login(client, user.username, "wrong").status_code for _ in range(5)]

    locked = login(client, user.username, "wrong", **ACCOUNT_EVENT_ORIGIN)
    refused_again = login(client, user.username, **ACCOUNT_EVENT_ORIGIN)

    assert statuses == [401] * 5
    assert (locked.status_code, refused_again.status_code) == (429, 429)
    found = only_record("user.locked_out")
    assert_account_event_origin(found, actor=None, target=str(user.pk))
    assert found.changes["scope"] == [None, "account"]
    assert len(records_of("user.login_failed")) == 5
    assert chain_verify().intact


@pytest.mark.django_db(transaction=True)
def test_failures_and_lockouts_of_a_parallel_burst_are_all_recorded() -> None:
    user = UserFactory()
    barrier = threading.Barrier(12)
    statuses: list[int] = []

    def guess() -> None:
        barrier.wait(timeout=10)
        try:
            statuses.append(login(APIClient(), user.username, "wrong").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [401] * 5 + [429] * 7
    assert len(records_of("user.login_failed")) == 5
    assert len(records_of("user.locked_out")) == 1
    assert chain_verify().intact


@pytest.mark.django_db(transaction=True)
def test_a_parallel_mix_of_right_and_wrong_passwords_records_each_outcome_once(settings) -> None:
    settings.PASSWORD_HASHERS = ["tests.accounts.helpers.TimedHasher"]
    user = UserFactory()
    barrier = threading.Barrier(16)
    statuses: list[int] = []

    def attempt(password: str) -> None:
        barrier.wait(timeout=10)
        try:
            statuses.append(login(APIClient(), user.username, password).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(p,)) for p in [PASSWORD, "wrong"] * 8]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(statuses) == 16
    assert len(records_of("user.login_succeeded")) == statuses.count(200)
    assert len(records_of("user.login_failed")) == statuses.count(401)
    assert len(records_of("user.locked_out")) == int(429 in statuses)
    assert chain_verify().intact


def test_the_address_limit_writes_no_audit_record(settings) -> None:
    settings.LOGIN_IP_FAILURE_LIMIT = 2
    user = UserFactory()
    client = APIClient()
    for _ in range(2):
        login(client, "ghost", "wrong")

    statuses = [login(client, user.username, "wrong").status_code for _ in range(5)]

    assert statuses == [429] * 5
    assert records_of("user.locked_out") == []
    assert len(records_of("user.login_failed")) == 2


def test_an_unlock_by_an_admin_in_the_admin_site_is_recorded(client) -> None:
    user = UserFactory()
    for _ in range(6):
        login(APIClient(), user.username, "wrong")
    admin = AdminFactory()
    client.force_login(admin)

    client.post(
        "/admin/accounts/user/",
        {"action": "unlock", "_selected_action": [user.pk]},
        **ACCOUNT_EVENT_ORIGIN,
    )

    found = only_record("user.unlocked")
    assert_account_event_origin(found, actor=admin, target=str(user.pk))
    assert found.changes["failures"] == [5, 0]


def test_unlock_user_from_the_shell_is_recorded_without_an_actor() -> None:
    user = UserFactory()
    for _ in range(6):
        login(APIClient(), user.username, "wrong")

    call_command("unlock_user", user.username, stdout=None)

    found = only_record("user.unlocked")
    assert (found.actor_id, found.target_id, found.request_id, found.ip) == (
        None,
        str(user.pk),
        "",
        None,
    )


def test_clearing_counters_on_the_lockouts_page_records_each(client) -> None:
    for _ in range(3):
        login(APIClient(), "ghost", "wrong")
    admin = AdminFactory()
    client.force_login(admin)
    counters = list(LoginFailureCounter.objects.values_list("pk", flat=True))

    client.post(
        "/admin/accounts/loginfailurecounter/",
        {"action": "unlock", "_selected_action": counters},
    )

    found = records_of("user.unlocked")
    assert sorted(r.target_id for r in found) == ["", "ghost"]
    assert sorted(r.changes["counter"][0] for r in found) == ["account:name:ghost", "ip:127.0.0.1"]
    assert {r.actor_id for r in found} == {admin.pk}
