"""Lockout: counted in the database, atomic under parallel bursts, cleared by success or admin."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import LoginFailureCounter
from tests.accounts.helpers import login
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


def _fail(client: APIClient, username: str, times: int) -> list[int]:
    return [login(client, username, "wrong password").status_code for _ in range(times)]


def test_five_failures_get_401_and_then_every_attempt_is_429_with_retry_after(api_client) -> None:
    user = UserFactory()

    statuses = _fail(api_client, user.username, 5)
    locked = login(api_client, user.username)

    assert statuses == [401] * 5
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "account_locked"
    assert 0 < int(locked["Retry-After"]) <= 15 * 60


def test_locked_account_refuses_the_right_password_too(api_client) -> None:
    user = UserFactory()
    _fail(api_client, user.username, 6)

    assert login(api_client, user.username).status_code == 429
    assert login(api_client, user.email).status_code == 429


def test_a_success_resets_the_count(api_client) -> None:
    user = UserFactory()
    _fail(api_client, user.username, 4)
    assert login(api_client, user.username).status_code == 200

    assert _fail(api_client, user.username, 5) == [401] * 5


def test_unknown_accounts_lock_exactly_like_known_ones(api_client) -> None:
    known = UserFactory()

    unknown_statuses = _fail(api_client, "ghost-account", 6)
    known_statuses = _fail(api_client, known.username, 6)

    assert unknown_statuses == known_statuses == [401] * 5 + [429]


def test_the_limit_and_window_are_configurable(api_client, settings) -> None:
    settings.LOGIN_FAILURE_LIMIT = 2
    user = UserFactory()

    assert _fail(api_client, user.username, 3) == [401, 401, 429]


def test_the_lock_ends_when_its_window_has_passed(api_client) -> None:
    user = UserFactory()
    _fail(api_client, user.username, 6)
    sixteen_minutes_ago = timezone.now() - timedelta(minutes=16)
    LoginFailureCounter.objects.update(
        window_started_at=sixteen_minutes_ago, locked_until=sixteen_minutes_ago
    )

    assert login(api_client, user.username).status_code == 200


def test_one_address_failing_across_accounts_is_locked(api_client, settings) -> None:
    settings.LOGIN_IP_FAILURE_LIMIT = 3
    users = UserFactory.create_batch(4)

    statuses = [login(api_client, u.username, "wrong password").status_code for u in users]
    other_address = login(APIClient(REMOTE_ADDR="10.9.8.7"), users[0].username)

    assert statuses == [401, 401, 401, 429]
    assert other_address.status_code == 200


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(api_client, settings) -> None:
    settings.LOGIN_IP_FAILURE_LIMIT = 2
    users = UserFactory.create_batch(3)

    statuses = [
        login(api_client, u.username, "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code
        for i, u in enumerate(users)
    ]

    assert statuses == [401, 401, 429]


def test_unlock_user_command_lifts_the_lock(api_client) -> None:
    user = UserFactory()
    _fail(api_client, user.username, 6)

    call_command("unlock_user", user.email)

    assert login(api_client, user.username).status_code == 200


def test_admin_lockouts_page_unlock_action_lifts_the_lock(api_client, client) -> None:
    user = UserFactory()
    _fail(api_client, user.username, 6)
    client.force_login(AdminFactory())
    counter = LoginFailureCounter.objects.get(scope="account")

    response = client.post(
        "/admin/accounts/loginfailurecounter/",
        {"action": "unlock", "_selected_action": [counter.pk]},
    )

    assert response.status_code == 302
    assert login(api_client, user.username).status_code == 200


def test_admin_user_page_unlock_action_lifts_the_lock(api_client, client) -> None:
    user = UserFactory()
    _fail(api_client, user.username, 6)
    client.force_login(AdminFactory())

    client.post("/admin/accounts/user/", {"action": "unlock", "_selected_action": [user.pk]})

    assert login(api_client, user.username).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_parallel_burst_gets_no_more_than_five_guesses_through() -> None:
    user = UserFactory()
    barrier = threading.Barrier(16)
    statuses: list[int] = []

    def guess() -> None:
        barrier.wait(timeout=10)
        try:
            statuses.append(login(APIClient(), user.username, "wrong password").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [401] * 5 + [429] * 11


def test_forwarded_for_from_a_trusted_proxy_names_the_client(api_client, settings) -> None:
    settings.LOGIN_IP_FAILURE_LIMIT = 2
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    users = UserFactory.create_batch(3)

    statuses = [
        login(api_client, u.username, "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code
        for i, u in enumerate(users)
    ]

    assert statuses == [401, 401, 401]
