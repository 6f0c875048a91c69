"""Rate limits per role and on the auth scope, against the real cache (LocMem, or Redis in CI)."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client
from rest_framework.test import APIClient

from config.http.rate_limits import Rate, check_rate_limit_settings, parse_rate
from tests.config.urls_rate_limits import AUTH_SCOPED_PATH
from tests.factories import UserFactory

JOBS_PATH = "/api/v1/jobs"
PUBLIC_PATH = "/"
CLOSED_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


@pytest.fixture(autouse=True)
def _clear_of_window_edges() -> None:
    """Keep a test inside one window: wait for the next minute if this one is nearly over.

    Hours and days start on a minute too, so this covers every window the tests use.
    """
    left = 60 - time.time() % 60
    if left < 5:
        time.sleep(left + 0.05)


@pytest.fixture
def cache_down(settings) -> None:
    settings.CACHES = CLOSED_REDIS


def set_rates(settings, **rates: str) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, **rates}


def client_as(role: str) -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory(role=role))
    return client


def start_job(client: APIClient) -> object:
    return client.post(JOBS_PATH, {"kind": "noop"}, format="json")


@pytest.mark.django_db
def test_a_success_carries_the_rate_limit_headers(settings) -> None:
    set_rates(settings, user="5/min")

    response = start_job(client_as("user"))

    assert response.status_code == 202
    assert response["RateLimit-Limit"] == "5"
    assert response["RateLimit-Remaining"] == "4"
    assert 1 <= int(response["RateLimit-Reset"]) <= 60


@pytest.mark.django_db
def test_remaining_counts_down_with_each_request(settings) -> None:
    set_rates(settings, user="5/min")
    client = client_as("user")

    remaining = [start_job(client)["RateLimit-Remaining"] for _ in range(3)]

    assert remaining == ["4", "3", "2"]


@pytest.mark.django_db
def test_an_error_response_carries_the_rate_limit_headers_too(settings) -> None:
    set_rates(settings, user="5/min")

    response = client_as("user").post(JOBS_PATH, {"kind": ""}, format="json")

    assert response.status_code == 400
    assert response["RateLimit-Remaining"] == "4"


@pytest.mark.django_db
def test_over_the_limit_is_a_429_rate_limited_envelope_with_retry_after(settings) -> None:
    set_rates(settings, user="2/min")
    client = client_as("user")
    start_job(client)
    start_job(client)

    response = start_job(client)

    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["request_id"] == response["X-Request-ID"]
    assert 1 <= int(response["Retry-After"]) <= 60


@pytest.mark.django_db
def test_a_429_carries_the_rate_limit_headers_with_nothing_remaining(settings) -> None:
    set_rates(settings, user="1/min")
    client = client_as("user")
    start_job(client)

    response = start_job(client)

    assert response.status_code == 429
    assert response["RateLimit-Limit"] == "1"
    assert response["RateLimit-Remaining"] == "0"
    assert response["RateLimit-Reset"] == response["Retry-After"]


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "limit"), [("guest", 2), ("user", 3), ("admin", 4)])
def test_each_role_is_limited_at_its_own_rate(settings, role: str, limit: int) -> None:
    set_rates(settings, guest="2/min", user="3/min", admin="4/min")
    client = client_as(role)

    statuses = [start_job(client).status_code for _ in range(limit + 1)]

    assert statuses == [202] * limit + [429]


@pytest.mark.django_db
def test_users_are_counted_separately(settings) -> None:
    set_rates(settings, user="1/min")
    first, second = client_as("user"), client_as("user")
    start_job(first)

    assert start_job(first).status_code == 429
    assert start_job(second).status_code == 202


@pytest.mark.django_db
def test_a_role_without_a_rate_is_not_limited(settings) -> None:
    set_rates(settings, user="")
    client = client_as("user")

    responses = [start_job(client) for _ in range(5)]

    assert [response.status_code for response in responses] == [202] * 5
    assert "RateLimit-Limit" not in responses[-1]


@pytest.mark.django_db
def test_anonymous_clients_are_limited_per_ip(settings) -> None:
    set_rates(settings, anon="1/min")
    client = APIClient()

    assert client.get(PUBLIC_PATH, REMOTE_ADDR="192.0.2.1").status_code == 200
    assert client.get(PUBLIC_PATH, REMOTE_ADDR="192.0.2.1").status_code == 429
    assert client.get(PUBLIC_PATH, REMOTE_ADDR="192.0.2.2").status_code == 200


@pytest.mark.django_db
def test_anonymous_ipv6_clients_are_limited_per_64_prefix(settings) -> None:
    set_rates(settings, anon="1/min")
    client = APIClient()

    assert client.get(PUBLIC_PATH, REMOTE_ADDR="2001:db8:0:1::1").status_code == 200
    assert client.get(PUBLIC_PATH, REMOTE_ADDR="2001:db8:0:1::2").status_code == 429
    assert client.get(PUBLIC_PATH, REMOTE_ADDR="2001:db8:0:2::1").status_code == 200


@pytest.mark.django_db
def test_behind_a_trusted_proxy_anonymous_clients_are_limited_by_forwarded_address(
    settings,
) -> None:
    set_rates(settings, anon="1/min")
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    client = APIClient()
    via_proxy = {"REMOTE_ADDR": "10.0.0.1"}

    assert client.get(PUBLIC_PATH, HTTP_X_FORWARDED_FOR="192.0.2.1", **via_proxy).status_code == 200
    assert client.get(PUBLIC_PATH, HTTP_X_FORWARDED_FOR="192.0.2.2", **via_proxy).status_code == 200
    assert client.get(PUBLIC_PATH, HTTP_X_FORWARDED_FOR="192.0.2.1", **via_proxy).status_code == 429


@pytest.mark.django_db
def test_health_probes_are_not_rate_limited(settings) -> None:
    set_rates(settings, anon="1/min")
    client = APIClient()

    responses = [client.get("/health") for _ in range(3)]

    assert [response.status_code for response in responses] == [200] * 3
    assert "RateLimit-Limit" not in responses[-1]


@pytest.mark.django_db
def test_after_retry_after_seconds_a_new_window_lets_requests_through(settings) -> None:
    set_rates(settings, anon="1/sec")
    client = APIClient()
    time.sleep(1 - time.time() % 1)  # start at the beginning of a one-second window
    assert client.get(PUBLIC_PATH).status_code == 200
    refused = client.get(PUBLIC_PATH)
    assert refused.status_code == 429

    time.sleep(int(refused["Retry-After"]))

    assert client.get(PUBLIC_PATH).status_code == 200


@pytest.mark.urls("tests.config.urls_rate_limits")
def test_the_auth_scope_is_limited_per_ip(settings) -> None:
    set_rates(settings, auth="2/min")
    client = APIClient()

    statuses = [client.post(AUTH_SCOPED_PATH).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert client.post(AUTH_SCOPED_PATH, REMOTE_ADDR="192.0.2.9").status_code == 200


@pytest.mark.urls("tests.config.urls_rate_limits")
@pytest.mark.parametrize(("auth", "anon"), [("3/min", "10/min"), ("10/min", "3/min")])
def test_with_several_limits_the_headers_report_the_one_with_fewest_remaining(
    settings, auth: str, anon: str
) -> None:
    set_rates(settings, auth=auth, anon=anon)

    response = APIClient().post(AUTH_SCOPED_PATH)

    assert response["RateLimit-Limit"] == "3"
    assert response["RateLimit-Remaining"] == "2"


@pytest.mark.urls("tests.config.urls_rate_limits")
def test_a_concurrent_burst_lets_exactly_the_limit_through(settings) -> None:
    set_rates(settings, auth="5/min")
    attempts = 20
    start = threading.Barrier(attempts)

    def attempt(_: int) -> int:
        client = Client()
        start.wait(timeout=10)
        return client.post(AUTH_SCOPED_PATH, REMOTE_ADDR="198.51.100.7").status_code

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        statuses = list(pool.map(attempt, range(attempts)))

    assert statuses.count(200) == 5
    assert statuses.count(429) == attempts - 5


@pytest.mark.urls("tests.config.urls_rate_limits")
def test_with_the_cache_down_the_auth_scope_fails_closed_with_503(
    settings, cache_down: None
) -> None:
    set_rates(settings, auth="5/min")

    response = APIClient().post(AUTH_SCOPED_PATH)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"


@pytest.mark.django_db
def test_with_the_cache_down_the_general_scope_fails_open(settings, cache_down: None) -> None:
    set_rates(settings, user="1/min")
    client = client_as("user")

    responses = [start_job(client) for _ in range(3)]

    assert [response.status_code for response in responses] == [202] * 3
    assert "RateLimit-Limit" not in responses[-1]


@pytest.mark.django_db
def test_with_the_cache_down_a_failing_open_request_logs_one_warning(
    settings, cache_down: None, caplog: pytest.LogCaptureFixture
) -> None:
    set_rates(settings, user="1/min")

    with caplog.at_level(logging.WARNING, logger="agora.ratelimit"):
        start_job(client_as("user"))

    assert [r.levelname for r in caplog.records if r.name == "agora.ratelimit"] == ["WARNING"]


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("7/s", Rate(7, 1)),
        ("7/sec", Rate(7, 1)),
        ("120/m", Rate(120, 60)),
        ("120/min", Rate(120, 60)),
        ("3/h", Rate(3, 3600)),
        ("3/hour", Rate(3, 3600)),
        ("2/d", Rate(2, 86400)),
        ("2/day", Rate(2, 86400)),
        (" 30 / MIN ", Rate(30, 60)),
    ],
)
def test_rates_are_parsed_as_hits_per_window(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["120", "many/min", "0/min", "-1/min", "5/fortnight", "5/2min"])
def test_an_invalid_rate_fails_the_system_check(settings, text: str) -> None:
    set_rates(settings, user=text)

    assert [error.id for error in check_rate_limit_settings()] == ["agora.E001"]
