"""A database that is down is a fast 503 `service_unavailable`, never a slow 500.

The server runs as a real process (tests/live.py) whose database is either an address where
nothing listens or the session's PostgreSQL behind a proxy the test cuts (tests/tcp_proxy.py;
the shared PostgreSQL itself is never stopped). "Fast" is a bounded wait, never a timing
measurement: every answer must arrive before the client gives up after
CLIENT_TIMEOUT_SECONDS, where the pool used to hold each request for 10 s.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import Message
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.utils import ConnectionHandler, OperationalError
from django.http import HttpRequest, HttpResponse
from django.test import override_settings
from psycopg_pool import PoolTimeout
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tokens import token_pair_make
from config.core.database import DatabaseUnavailable, DatabaseUnreachable, database_unavailable
from tests.factories import PASSWORD, UserFactory, bearer
from tests.live import free_port, http_request, live_server, session_database_url
from tests.tcp_proxy import TcpProxy

CLIENT_TIMEOUT_SECONDS = 4
RECOVERY_TIMEOUT_SECONDS = 30


def _call(
    base_url: str, method: str, path: str, body: dict[str, Any] | None = None, **headers: str
) -> tuple[int, Message, dict[str, Any] | str]:
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    status, response_headers, raw = http_request(
        method, base_url + path, body=data, headers=headers, timeout=CLIENT_TIMEOUT_SECONDS
    )
    if response_headers.get_content_type() == "application/json":
        return status, response_headers, json.loads(raw)
    return status, response_headers, raw.decode()


def _assert_service_unavailable(status: int, headers: Message, body: Any) -> None:
    assert status == 503, body
    assert body["error"]["code"] == "service_unavailable"
    assert body["error"]["request_id"] == headers["X-Request-ID"]
    assert int(headers["Retry-After"]) >= 1
    # Neither the database's address nor the driver's words reach the client.
    assert "127.0.0.1" not in json.dumps(body)


def _unsaved_user_bearer() -> str:
    """A correctly signed access token; checking it needs the database the server lacks."""
    user = User(id=uuid.uuid4(), username="zoë", email="zoe@example.org")
    pair = token_pair_make(user=user, session_id=uuid.uuid4(), jti=uuid.uuid4())
    return f"Bearer {pair.access_token}"


@pytest.fixture(scope="module")
def unreachable_server() -> Iterator[str]:
    nowhere = f"postgres://agora@127.0.0.1:{free_port()}/agora"
    with live_server(DATABASE_URL=nowhere, REDIS_URL="", EMBEDDED_WORKER="false") as base_url:
        yield base_url


REQUESTS_NEEDING_THE_DATABASE = [
    pytest.param("GET", "/api/v1/posts", None, {}, id="anonymous-list"),
    pytest.param("GET", "/api/v1/users/me", None, {"Authorization": "bearer"}, id="bearer-read"),
    pytest.param(
        "POST",
        "/api/v1/posts",
        {"title": "Grüße", "body": "李雷 was here"},
        {"Authorization": "bearer"},
        id="bearer-write",
    ),
    pytest.param("GET", "/api/v1/posts/", None, {"X-API-Key": "agora_abcdef_secret"}, id="api-key"),
    pytest.param(
        "POST",
        "/api/v1/auth/token",
        {"grant_type": "password", "username": "müller", "password": PASSWORD},
        {},
        id="login",
    ),
]


@pytest.mark.live_server
@pytest.mark.parametrize(("method", "path", "body", "headers"), REQUESTS_NEEDING_THE_DATABASE)
def test_with_the_database_unreachable_api_requests_answer_503_at_once(
    unreachable_server: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
) -> None:
    if headers.get("Authorization") == "bearer":
        headers = {**headers, "Authorization": _unsaved_user_bearer()}

    # Twice: the first request may be the one whose wait for a connection times out.
    for _ in range(2):
        _assert_service_unavailable(*_call(unreachable_server, method, path, body, **headers))


@pytest.mark.live_server
def test_with_the_database_unreachable_probes_answer_503_at_once_and_liveness_200(
    unreachable_server: str,
) -> None:
    db_status, db_headers, db_body = _call(unreachable_server, "GET", "/health/db")
    ready_status, ready_headers, ready_body = _call(unreachable_server, "GET", "/health/ready")
    live_status, _, _ = _call(unreachable_server, "GET", "/health")

    assert db_status == 503
    assert db_headers["Content-Type"] == "application/json"
    assert db_body["status"] == "fail"
    assert db_body["vendor"] == "postgresql"
    assert db_body["reason"] == "OperationalError"
    assert db_body["error"]["code"] == "service_unavailable"
    assert db_body["error"]["details"] == {"failed": ["database"]}
    assert db_body["error"]["request_id"] == db_headers["X-Request-ID"]
    assert "127.0.0.1" not in json.dumps(db_body)
    assert ready_status == 503
    assert ready_body["checks"]["database"]["status"] == "fail"
    assert ready_body["error"]["details"] == {"failed": ["database"]}
    assert ready_body["error"]["request_id"] == ready_headers["X-Request-ID"]
    assert live_status == 200


@pytest.mark.live_server
def test_with_the_database_unreachable_an_admin_page_is_a_503_page(
    unreachable_server: str,
) -> None:
    # The session cookie makes the admin look the session up in the database.
    status, headers, body = _call(
        unreachable_server, "GET", "/admin/", Cookie="sessionid=8n2vq0s2l6k0m3x1c9t7y4h5"
    )

    assert status == 503
    assert headers.get_content_type() == "text/html"
    assert int(headers["Retry-After"]) >= 1
    assert "Service unavailable" in body


# --- Through a proxy the test cuts: the database goes away and comes back ----------------------


@pytest.fixture(scope="module")
def proxied_server(django_db_setup: None) -> Iterator[tuple[str, TcpProxy]]:
    settings_dict = connection.settings_dict
    proxy = TcpProxy(
        upstream=(settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432))
    )
    proxy.start()
    try:
        with live_server(
            DATABASE_URL=session_database_url(port=proxy.port),
            REDIS_URL="",
            EMBEDDED_WORKER="false",
        ) as base_url:
            yield base_url, proxy
    finally:
        proxy.close()


@pytest.fixture
def proxied(proxied_server: tuple[str, TcpProxy]) -> Iterator[tuple[str, TcpProxy]]:
    """The proxied server; whatever the test did to the proxy, the next test finds it healthy."""
    yield proxied_server
    base_url, proxy = proxied_server
    proxy.thaw()
    proxy.start()
    assert _answers_200(base_url, "/health/db", {}), "the server did not recover"


def _answers_200(base_url: str, path: str, headers: dict[str, str]) -> bool:
    """Poll until `path` answers 200 (True) or RECOVERY_TIMEOUT_SECONDS pass (False)."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            if _call(base_url, "GET", path, **headers)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


@pytest.mark.postgres
@pytest.mark.live_server
@pytest.mark.django_db(transaction=True)
def test_a_database_that_goes_away_is_a_503_and_the_server_recovers_by_itself(
    proxied: tuple[str, TcpProxy],
) -> None:
    base_url, proxy = proxied
    auth = {"Authorization": bearer(UserFactory())}
    before, _, _ = _call(base_url, "GET", "/api/v1/users/me", **auth)

    proxy.stop()
    during = [_call(base_url, "GET", "/api/v1/users/me", **auth) for _ in range(3)]
    probe_status, _, _ = _call(base_url, "GET", "/health/db")
    proxy.start()
    recovered = _answers_200(base_url, "/api/v1/users/me", auth)

    assert before == 200
    for answer in during:
        _assert_service_unavailable(*answer)
    assert probe_status == 503
    assert recovered


@pytest.mark.postgres
@pytest.mark.live_server
@pytest.mark.django_db(transaction=True)
def test_probes_answer_within_their_timeout_when_the_database_stops_answering(
    proxied: tuple[str, TcpProxy],
) -> None:
    base_url, proxy = proxied
    assert _call(base_url, "GET", "/health/db")[0] == 200

    proxy.freeze()
    db_status, _, db_body = _call(base_url, "GET", "/health/db")
    ready_status, _, ready_body = _call(base_url, "GET", "/health/ready")
    live_status, _, _ = _call(base_url, "GET", "/health")

    assert db_status == 503
    assert db_body["reason"] == "TimeoutError"
    assert ready_status == 503
    assert ready_body["error"]["details"] == {"failed": ["database"]}
    assert live_status == 200


# --- The gate and the line between an outage and a bug, in-process ----------------------------


@pytest.fixture
def nowhere(django_db_blocker: Any) -> Iterator[Any]:
    """A pooled PostgreSQL connection (not connected yet) to a port where nothing listens."""
    handler = ConnectionHandler(
        {
            "default": {},
            "nowhere": {
                "ENGINE": "config.core.postgresql",
                "NAME": "agora",
                "USER": "agora",
                "HOST": "127.0.0.1",
                "PORT": str(free_port()),
                "OPTIONS": {"pool": {"min_size": 1, "max_size": 4, "timeout": 0.2}},
            },
        }
    )
    wrapper = handler["nowhere"]
    try:
        with django_db_blocker.unblock():
            yield wrapper
    finally:
        wrapper.close_pool()


def test_after_a_wait_for_a_connection_timed_out_the_gate_refuses_without_waiting(
    nowhere: Any,
) -> None:
    with pytest.raises(OperationalError) as waited:
        nowhere.ensure_connection()
    with pytest.raises(OperationalError) as refused:
        nowhere.ensure_connection()

    assert isinstance(waited.value.__cause__, PoolTimeout)
    assert isinstance(refused.value.__cause__, DatabaseUnreachable)
    assert isinstance(database_unavailable(waited.value), DatabaseUnavailable)
    assert isinstance(database_unavailable(refused.value), DatabaseUnavailable)


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_wait_that_timed_out_on_a_busy_pool_does_not_close_the_gate() -> None:
    # Two handlers with one alias share one pool (Django keeps pools per alias): one connection.
    busy = {
        **connection.settings_dict,
        "OPTIONS": {
            **connection.settings_dict["OPTIONS"],
            "pool": {"min_size": 1, "max_size": 1, "timeout": 0.2},
        },
    }
    holder = ConnectionHandler({"default": {}, "busy": dict(busy)})["busy"]
    waiter = ConnectionHandler({"default": {}, "busy": dict(busy)})["busy"]
    try:
        holder.ensure_connection()
        with pytest.raises(OperationalError) as first:
            waiter.ensure_connection()
        with pytest.raises(OperationalError) as second:
            waiter.ensure_connection()
        holder.close()
        waiter.ensure_connection()
        served_once_free = waiter.is_usable()
    finally:
        waiter.close()
        holder.close_pool()

    assert isinstance(first.value.__cause__, PoolTimeout)
    # It waited again, rather than being refused as if the database were gone.
    assert isinstance(second.value.__cause__, PoolTimeout)
    assert served_once_free


@pytest.mark.django_db
def test_a_query_on_a_missing_table_is_a_bug_not_an_outage() -> None:
    # SQLite calls this an OperationalError, PostgreSQL a ProgrammingError: both stay 500s.
    with transaction.atomic(), connection.cursor() as cursor:
        with pytest.raises(DatabaseError) as raised:
            cursor.execute("SELECT * FROM agora_no_such_table")
        transaction.set_rollback(True)

    assert database_unavailable(raised.value) is None


@pytest.mark.django_db
def test_a_constraint_violation_is_a_bug_not_an_outage() -> None:
    taken = UserFactory()
    with pytest.raises(DatabaseError) as raised, transaction.atomic():
        UserFactory(username=taken.username)

    assert database_unavailable(raised.value) is None


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_cancelled_statement_is_an_operational_error_but_not_an_outage() -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 10")
        with pytest.raises(OperationalError) as raised:
            cursor.execute("SELECT pg_sleep(1)")
        transaction.set_rollback(True)

    assert raised.value.__cause__.sqlstate == "57014"
    assert database_unavailable(raised.value) is None


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_connection_the_server_ended_is_an_outage() -> None:
    params = connection.settings_dict
    connect = {
        "host": params["HOST"] or "127.0.0.1",
        "port": params["PORT"] or 5432,
        "user": params["USER"],
        "password": params["PASSWORD"] or None,
        "dbname": params["NAME"],
        "autocommit": True,
    }
    with psycopg.connect(**connect) as victim, psycopg.connect(**connect) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [victim.info.backend_pid])
        with pytest.raises(psycopg.OperationalError) as raised:
            victim.execute("SELECT 1")

    assert isinstance(database_unavailable(raised.value), DatabaseUnavailable)


class DatabaseInMiddleware:
    """Reaches the database before any view runs, as session or auth middleware would."""

    connection: Any = None

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.connection.ensure_connection()
        return self.get_response(request)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/api/v1/posts", "application/json"), ("/admin/", "text/html")],
)
def test_the_database_down_in_a_middleware_is_a_503_too(
    nowhere: Any, path: str, content_type: str
) -> None:
    DatabaseInMiddleware.connection = nowhere
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(1, f"{__name__}.DatabaseInMiddleware")

    with override_settings(MIDDLEWARE=middleware):
        response = APIClient(raise_request_exception=False).get(path)

    assert response.status_code == 503
    assert response["Content-Type"].startswith(content_type)
    assert int(response["Retry-After"]) >= 1


@pytest.mark.django_db
@pytest.mark.urls("tests.config.urls_failing")
@pytest.mark.parametrize("path", ["/api/v1/bad-query", "/health/bad-query"])
def test_a_bad_query_in_a_view_stays_a_500(path: str) -> None:
    response = APIClient(raise_request_exception=False).get(path)

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
