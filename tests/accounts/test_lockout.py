"""Lockout per account and the failure limit per address: counted in the database, exact under
parallel bursts (right and wrong passwords mixed), cleared by a success, the window or an admin."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import LoginFailureCounter
from accounts.services.lockout import login_attempt_abandoned, login_attempt_begin, login_keys
from config.core.context import RequestOrigin, request_origin
from tests.accounts.helpers import login
from tests.factories import PASSWORD, AdminFactory, UserFactory

pytestmark = pytest.mark.django_db

WRONG = "wrong password"


def _fail(client: APIClient, username: str, times: int) -> list[int]:
    return [login(client, username, WRONG).status_code for _ in range(times)]


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


def test_an_address_over_its_limit_gets_429_rate_limited_with_retry_after(
    api_client, settings
) -> None:
    settings.LOGIN_IP_FAILURE_LIMIT = 3
    users = UserFactory.create_batch(4)

    statuses = [login(api_client, u.username, WRONG).status_code for u in users[:3]]
    refused = login(api_client, users[3].username)

    assert statuses == [401, 401, 401]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert set(refused.json()["error"]) == {"code", "message", "details", "request_id"}
    assert 0 < int(refused["Retry-After"]) <= 15 * 60
    assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(refused.headers)


def test_an_address_over_its_limit_locks_no_account(api_client, settings) -> None:
    settings.LOGIN_IP_FAILURE_LIMIT = 3
    users = UserFactory.create_batch(3)
    for user in users:
        login(api_client, user.username, WRONG)
    login(api_client, users[0].username)

    elsewhere = APIClient(REMOTE_ADDR="10.9.8.7")
    statuses = [login(elsewhere, u.username).status_code for u in users]

    assert statuses == [200, 200, 200]
    assert not LoginFailureCounter.objects.filter(scope="account", locked_until__isnull=False)


def test_refusals_by_the_address_limit_count_against_no_account(api_client, settings) -> None:
    settings.LOGIN_IP_FAILURE_LIMIT = 2
    tried, user = UserFactory(), UserFactory()
    _fail(api_client, tried.username, 2)
    refused = _fail(api_client, user.username, 10)
    settings.LOGIN_IP_FAILURE_LIMIT = 100

    elsewhere = _fail(APIClient(REMOTE_ADDR="10.9.8.7"), user.username, 6)

    assert refused == [429] * 10
    assert elsewhere == [401] * 5 + [429]


def test_the_address_limit_is_100_failures_by_default(api_client) -> None:
    statuses = [login(api_client, f"ghost-{i}", WRONG).status_code for i in range(100)]
    refused = login(api_client, "ghost-100", WRONG)

    assert statuses == [401] * 100
    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "rate_limited")


def test_the_address_limit_ends_when_its_window_has_passed(api_client, settings) -> None:
    settings.LOGIN_IP_FAILURE_LIMIT = 2
    user = UserFactory()
    _fail(api_client, "ghost", 3)
    sixteen_minutes_ago = timezone.now() - timedelta(minutes=16)
    LoginFailureCounter.objects.update(
        window_started_at=sixteen_minutes_ago, locked_until=sixteen_minutes_ago
    )

    assert login(api_client, user.username).status_code == 200


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


@pytest.fixture
def timed_hashing(settings) -> None:
    """Passwords set from here on take a real hash's time to check."""
    settings.PASSWORD_HASHERS = ["tests.accounts.helpers.TimedHasher"]


def _attempts_in_flight(user, count: int, *, for_seconds: float) -> None:
    """`count` attempts of `user` counted as in flight, as if being checked elsewhere."""
    now = timezone.now()
    LoginFailureCounter.objects.create(
        scope="account",
        key=f"user:{user.pk}",
        user=user,
        window_started_at=now,
        in_flight={f"attempt-{i}": now.timestamp() + for_seconds for i in range(count)},
    )


def test_a_login_waiting_on_attempts_in_flight_gives_up_with_429_rate_limited(
    api_client, settings
) -> None:
    settings.LOGIN_ATTEMPT_WAIT = 0.2
    user = UserFactory()
    _attempts_in_flight(user, 5, for_seconds=20)

    refused = login(api_client, user.username)

    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "rate_limited")
    assert 0 < int(refused["Retry-After"]) <= 20


def test_attempts_left_in_flight_by_a_dead_process_stop_counting_after_their_timeout(
    api_client, settings
) -> None:
    settings.LOGIN_ATTEMPT_WAIT = 0.2
    user = UserFactory()
    _attempts_in_flight(user, 5, for_seconds=-1)

    assert login(api_client, user.username).status_code == 200


def test_an_abandoned_attempt_gives_its_place_back() -> None:
    user = UserFactory()
    with request_origin(RequestOrigin(ip="192.0.2.1")):
        keys = login_keys(identifier=user.username, user=user)

    attempts = [login_attempt_begin(keys) for _ in range(5)]
    for attempt in attempts:
        login_attempt_abandoned(attempt)

    assert not LoginFailureCounter.objects.exists()
    assert login(APIClient(), user.username).status_code == 200


def test_the_lockouts_page_shows_accounts_and_addresses_with_their_attempts_in_flight(
    client, settings
) -> None:
    settings.LOGIN_IP_FAILURE_LIMIT = 2
    user = UserFactory()
    _attempts_in_flight(user, 3, for_seconds=20)
    _fail(APIClient(), "ghost", 3)
    client.force_login(AdminFactory())

    page = client.get("/admin/accounts/loginfailurecounter/").content.decode()

    assert "name:ghost" in page
    assert "127.0.0.1" in page
    assert f"user:{user.pk}" in page
    assert "attempts in flight" in page.casefold()


def _burst(
    username: str, passwords: list[str], address: str = "127.0.0.1"
) -> list[tuple[str, int, str]]:
    """One login per password, all at once from their own threads: (password, status, code)."""
    barrier = threading.Barrier(len(passwords))
    outcomes: list[tuple[str, int, str]] = []

    def attempt(password: str) -> None:
        barrier.wait(timeout=10)
        try:
            response = login(APIClient(REMOTE_ADDR=address), username, password)
            code = response.json()["error"]["code"] if response.status_code >= 400 else ""
            outcomes.append((password, response.status_code, code))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(p,)) for p in passwords]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def _statuses(outcomes: list[tuple[str, int, str]], password: str) -> list[int]:
    return sorted(status for tried, status, _ in outcomes if tried == password)


@pytest.mark.usefixtures("timed_hashing")
@pytest.mark.django_db(transaction=True)
def test_a_parallel_burst_gets_no_more_than_five_guesses_through() -> None:
    user = UserFactory()

    outcomes = _burst(user.username, [WRONG] * 16)

    assert _statuses(outcomes, WRONG) == [401] * 5 + [429] * 11


@pytest.mark.usefixtures("timed_hashing")
@pytest.mark.django_db(transaction=True)
def test_parallel_logins_with_the_right_password_all_succeed() -> None:
    user = UserFactory()

    outcomes = _burst(user.username, [PASSWORD] * 16)

    assert _statuses(outcomes, PASSWORD) == [200] * 16


@pytest.mark.usefixtures("timed_hashing")
@pytest.mark.django_db(transaction=True)
def test_a_parallel_mix_with_fewer_wrong_than_the_limit_turns_no_right_password_away() -> None:
    user = UserFactory()

    outcomes = _burst(user.username, [WRONG] * 4 + [PASSWORD] * 12)

    assert _statuses(outcomes, WRONG) == [401] * 4
    assert _statuses(outcomes, PASSWORD) == [200] * 12


@pytest.mark.usefixtures("timed_hashing")
@pytest.mark.django_db(transaction=True)
def test_a_parallel_mix_over_the_limit_refuses_only_after_five_failures() -> None:
    user = UserFactory()

    outcomes = _burst(user.username, [WRONG, PASSWORD] * 8)

    wrong, right = _statuses(outcomes, WRONG), _statuses(outcomes, PASSWORD)
    assert len(outcomes) == 16
    assert set(wrong) <= {401, 429}
    assert set(right) <= {200, 429}
    assert {code for _, status, code in outcomes if status == 429} <= {"account_locked"}
    # As the same attempts made one after the other would be answered: a lock comes only
    # after five failures, and no more than five fail between two successes.
    assert 429 not in wrong + right or wrong.count(401) >= 5
    assert wrong.count(401) <= 5 * (right.count(200) + 1)
    # Still locked afterwards exactly when the burst ended in a lock.
    assert (login(APIClient(), user.username).status_code == 429) == (429 in wrong + right)


@pytest.mark.usefixtures("timed_hashing")
@pytest.mark.django_db(transaction=True)
def test_repeated_parallel_mixes_never_end_in_a_server_error() -> None:
    users = UserFactory.create_batch(2)

    outcomes = [
        outcome
        for round_ in range(2)
        for i, user in enumerate(users)
        for outcome in _burst(
            user.username, [PASSWORD] * 12 + [WRONG] * 4, address=f"198.51.100.{round_ * 2 + i}"
        )
    ]

    assert {status for _, status, _ in outcomes} <= {200, 401}
    assert len(outcomes) == 2 * 2 * 16


def test_forwarded_for_from_a_trusted_proxy_names_the_client(api_client, settings) -> None:
    settings.LOGIN_IP_FAILURE_LIMIT = 2
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    users = UserFactory.create_batch(3)

    statuses = [
        login(api_client, u.username, "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code
        for i, u in enumerate(users)
    ]

    assert statuses == [401, 401, 401]
