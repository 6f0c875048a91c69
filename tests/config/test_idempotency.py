"""`Idempotency-Key` on POST (config.api.idempotency.mixin), against the real database."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey, User
from config.api.idempotency.mixin import IdempotentMixin
from config.api.idempotency.models import IdempotencyKey
from config.api.idempotency.store import idempotency_keys_purge
from tests.config import urls_idempotency
from tests.config.urls_idempotency import (
    ANONYMOUS_CREATE_PATH,
    BLOCKING_CREATE_PATH,
    CRASHING_PATH,
    CREATE_PATH,
    UNAVAILABLE_PATH,
)
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.config.urls_idempotency")]

KEY = "9f1c2d4e-retry-me"


def client_for(user: Any = None, **defaults: Any) -> APIClient:
    client = APIClient(raise_request_exception=False, **defaults)
    client.force_authenticate(user or UserFactory())
    return client


def post(client: APIClient, path: str, body: Any, key: str | None = KEY, **extra: Any) -> Any:
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(path, body, format="json", **headers, **extra)


def users_named(prefix: str) -> int:
    return User.objects.filter(username__startswith=prefix).count()


@pytest.fixture(autouse=True)
def _reset_test_views() -> Any:
    urls_idempotency.RELEASE.clear()
    urls_idempotency.FAILURES["left"] = 0
    yield
    urls_idempotency.RELEASE.set()


def test_a_retry_gets_the_first_answer_and_writes_nothing_new() -> None:
    client = client_for()

    first = post(client, CREATE_PATH, {"username": "anna"})
    again = post(client, CREATE_PATH, {"username": "anna"})

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again["Location"] == first["Location"]
    assert again["Content-Type"] == first["Content-Type"]
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert users_named("anna") == 1
    assert IdempotencyKey.objects.count() == 1


def test_a_replay_sets_no_cookies() -> None:
    client = client_for()
    post(client, CREATE_PATH, {"username": "anna"})

    again = post(client, CREATE_PATH, {"username": "anna"})

    assert "seen" not in again.cookies


def test_the_same_body_in_another_json_spelling_is_the_same_request() -> None:
    client = client_for()
    headers = {"HTTP_IDEMPOTENCY_KEY": KEY, "content_type": "application/json"}

    client.post(CREATE_PATH, '{"username":"anna","x":[1,2]}', **headers)
    again = client.post(CREATE_PATH, '{ "x": [1, 2],\n  "username": "anna" }', **headers)

    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (CREATE_PATH, {"username": "bernd"}),
        (f"{CREATE_PATH}?dry_run=1", {"username": "anna"}),
        (UNAVAILABLE_PATH, {"username": "anna"}),
    ],
)
def test_the_same_key_with_another_request_is_a_409(path: str, body: Any) -> None:
    client = client_for()
    post(client, CREATE_PATH, {"username": "anna"})

    response = post(client, path, body)

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert error["message"] == "This Idempotency-Key was already used with a different request."
    assert User.objects.filter(username__in=["anna", "bernd"]).count() == 1


def test_form_bodies_differing_in_any_value_of_a_repeated_field_are_different_requests() -> None:
    client = client_for()

    first = client.post(
        CREATE_PATH, {"username": "anna", "tag": ["a", "z"]}, HTTP_IDEMPOTENCY_KEY=KEY
    )
    other = client.post(
        CREATE_PATH, {"username": "anna", "tag": ["b", "z"]}, HTTP_IDEMPOTENCY_KEY=KEY
    )

    assert first.status_code == 201
    assert other.status_code == 409


def test_keys_of_different_users_are_independent() -> None:
    first = post(client_for(), CREATE_PATH, {"username": "anna"})
    second = post(client_for(), CREATE_PATH, {"username": "bernd"})

    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second
    assert IdempotencyKey.objects.count() == 2


def test_a_user_is_one_caller_whichever_credential_they_use() -> None:
    user = UserFactory()
    post(client_for(user), CREATE_PATH, {"username": "anna"})

    again = post(client_for(user), CREATE_PATH, {"username": "anna"})

    assert again["Idempotent-Replayed"] == "true"


def test_anonymous_callers_are_told_apart_by_address() -> None:
    here = APIClient(REMOTE_ADDR="198.51.100.7")
    there = APIClient(REMOTE_ADDR="203.0.113.9")

    post(here, ANONYMOUS_CREATE_PATH, {"username": "anna"})
    replayed = post(here, ANONYMOUS_CREATE_PATH, {"username": "anna"})
    elsewhere = post(there, ANONYMOUS_CREATE_PATH, {"username": "bernd"})

    assert replayed["Idempotent-Replayed"] == "true"
    assert elsewhere.status_code == 201
    assert "Idempotent-Replayed" not in elsewhere
    assert set(IdempotencyKey.objects.values_list("scope", flat=True)) == {
        "ip:198.51.100.7",
        "ip:203.0.113.9",
    }


@pytest.mark.parametrize("key", ["", "x" * 256, "ключ", "tab\there", "bell\x07"])
def test_a_malformed_key_is_a_400_and_nothing_runs(key: str) -> None:
    response = post(client_for(), CREATE_PATH, {"username": "anna"}, key=key)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"] == {"Idempotency-Key": ["Must be 1 to 255 printable ASCII characters."]}
    assert users_named("anna") == 0


def test_a_key_of_255_printable_characters_is_accepted() -> None:
    key = "".join(chr(32 + i % 95) for i in range(255))

    response = post(client_for(), CREATE_PATH, {"username": "anna"}, key=key)

    assert response.status_code == 201
    assert IdempotencyKey.objects.get().key == key


def test_without_the_header_nothing_is_stored() -> None:
    client = client_for()

    post(client, CREATE_PATH, {"username": "anna"}, key=None)
    post(client, CREATE_PATH, {"username": "bernd"}, key=None)

    assert IdempotencyKey.objects.count() == 0
    assert User.objects.filter(username__in=["anna", "bernd"]).count() == 2


def test_other_methods_ignore_the_header() -> None:
    response = client_for().get(CREATE_PATH, HTTP_IDEMPOTENCY_KEY=KEY)

    assert response.status_code == 200
    assert IdempotencyKey.objects.count() == 0


def test_an_error_answer_releases_the_key_for_a_corrected_retry() -> None:
    client = client_for()

    invalid = post(client, CREATE_PATH, {})
    corrected = post(client, CREATE_PATH, {"username": "anna"})

    assert invalid.status_code == 400
    assert corrected.status_code == 201
    assert "Idempotent-Replayed" not in corrected


def test_a_failed_request_releases_only_its_own_key() -> None:
    running = IdempotencyKey.objects.create(
        scope="user:someone-else", key=KEY, method="POST", path=CREATE_PATH, fingerprint="x"
    )

    invalid = post(client_for(), CREATE_PATH, {})

    assert invalid.status_code == 400
    assert IdempotencyKey.objects.filter(pk=running.pk).exists()


def test_a_crashed_request_releases_the_key_so_a_retry_runs() -> None:
    urls_idempotency.FAILURES["left"] = 1
    client = client_for()

    crashed = post(client, CRASHING_PATH, {"username": "anna"})
    assert IdempotencyKey.objects.count() == 0
    retried = post(client, CRASHING_PATH, {"username": "anna"})

    assert crashed.status_code == 500
    assert crashed.json()["error"]["code"] == "internal_error"
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert users_named("anna") == 1


def test_a_503_releases_the_key_so_a_retry_runs() -> None:
    urls_idempotency.FAILURES["left"] = 1
    client = client_for()

    unavailable = post(client, UNAVAILABLE_PATH, {"username": "anna"})
    retried = post(client, UNAVAILABLE_PATH, {"username": "anna"})

    assert unavailable.status_code == 503
    assert retried.status_code == 201
    assert users_named("anna") == 1


def test_keys_expire_after_24_hours_and_the_purge_deletes_them() -> None:
    client = client_for()
    post(client, CREATE_PATH, {"username": "anna"})
    post(client_for(), CREATE_PATH, {"username": "bernd"}, key="fresh")
    IdempotencyKey.objects.filter(key=KEY).update(
        created_at=timezone.now() - timedelta(hours=24, seconds=1)
    )

    purged = idempotency_keys_purge()

    assert purged == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


def test_an_expired_key_not_yet_purged_runs_the_request_anew() -> None:
    client = client_for()
    post(client, CREATE_PATH, {"username": "anna"})
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))

    again = post(client, CREATE_PATH, {"username": "anna2"})

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert IdempotencyKey.objects.get().created_at > timezone.now() - timedelta(minutes=1)


def test_a_claim_abandoned_by_a_dead_request_is_taken_over() -> None:
    user = UserFactory()
    IdempotencyKey.objects.create(
        scope=f"user:{user.pk}",
        key=KEY,
        method="POST",
        path=CREATE_PATH,
        fingerprint="of a request that never finished",
        created_at=timezone.now() - timedelta(minutes=6),
    )

    response = post(client_for(user), CREATE_PATH, {"username": "anna"})

    assert response.status_code == 201
    assert users_named("anna") == 1


def _post_in_thread(path: str, body: Any, user: Any, results: list[Any]) -> threading.Thread:
    def run() -> None:
        try:
            results.append(post(client_for(user), path, body))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _wait_for_claim() -> None:
    deadline = time.monotonic() + 10
    while not IdempotencyKey.objects.exists():
        assert time.monotonic() < deadline, "the first request never claimed its key"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_a_retry_while_the_first_request_runs_is_a_409_with_retry_after() -> None:
    user = UserFactory()
    results: list[Any] = []
    thread = _post_in_thread(BLOCKING_CREATE_PATH, {"username": "anna"}, user, results)
    _wait_for_claim()

    during = post(client_for(user), BLOCKING_CREATE_PATH, {"username": "anna"})
    urls_idempotency.RELEASE.set()
    thread.join(timeout=15)
    after = post(client_for(user), BLOCKING_CREATE_PATH, {"username": "anna"})

    assert during.status_code == 409
    assert during.json()["error"]["code"] == "conflict"
    assert during.json()["error"]["message"] == (
        "A request with this Idempotency-Key is still being processed."
    )
    assert during["Retry-After"] == "1"
    assert [response.status_code for response in results] == [201]
    assert after.content == results[0].content
    assert after["Idempotent-Replayed"] == "true"
    assert users_named("anna-") == 1


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_burst_with_one_key_runs_the_request_exactly_once() -> None:
    user = UserFactory()
    barrier = threading.Barrier(8)
    responses: list[Any] = []

    def send() -> None:
        barrier.wait(timeout=10)
        try:
            responses.append(post(client_for(user), BLOCKING_CREATE_PATH, {"username": "bea"}))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    urls_idempotency.RELEASE.set()
    for thread in threads:
        thread.join(timeout=30)

    executed = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r]
    others = {(r.status_code, r.get("Idempotent-Replayed")) for r in responses} - {(201, None)}
    assert len(responses) == 8
    assert len(executed) == 1
    assert others <= {(409, None), (201, "true")}
    assert users_named("bea-") == 1


# --- The real endpoints -----------------------------------------------------------------------


def test_a_job_is_queued_once_for_a_retried_request() -> None:
    from tasks.models import Job

    client = client_for()

    first = post(client, "/api/v1/jobs", {"kind": "noop", "params": {}})
    again = post(client, "/api/v1/jobs", {"kind": "noop", "params": {}})

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Job.objects.count() == 1


def test_a_retried_registration_is_answered_from_the_store() -> None:
    client = APIClient()
    body = {"email": "lei@example.org", "username": "李雷", "password": PASSWORD}

    first = post(client, "/api/v1/auth/register", body)
    again = post(client, "/api/v1/auth/register", body)

    assert first.status_code == again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert User.objects.filter(email="lei@example.org").count() == 1


def test_a_retried_api_key_creation_makes_one_key_and_never_replays_its_secret() -> None:
    client = client_for()

    first = post(client, "/api/v1/auth/api-keys", {"name": "Nightly export"})
    again = post(client, "/api/v1/auth/api-keys", {"name": "Nightly export"})

    assert first.status_code == again.status_code == 201
    assert first.json()["key"]
    assert again.json() == {**first.json(), "key": None}
    assert ApiKey.objects.count() == 1
    stored = bytes(IdempotencyKey.objects.get().response_body)
    assert first.json()["key"].encode() not in stored


def test_token_endpoints_ignore_the_key_and_store_no_credentials() -> None:
    user = UserFactory()
    body = {"grant_type": "password", "username": user.username, "password": PASSWORD}

    first = post(APIClient(), "/api/v1/auth/token", body)
    second = post(APIClient(), "/api/v1/auth/token", body)

    assert first.status_code == second.status_code == 200
    assert first.json()["refresh_token"] != second.json()["refresh_token"]
    assert "Idempotent-Replayed" not in second
    assert IdempotencyKey.objects.count() == 0


def _api_views(patterns: list[Any], prefix: str = "") -> Any:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_views(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and route.startswith("^api/v1/"):
            yield route, pattern.callback


@pytest.mark.urls("config.urls")
def test_every_post_endpoint_takes_the_key_or_says_why_not() -> None:
    """Applied uniformly: a new POST view must opt in (IdempotentMixin) or explain itself."""
    undecided = []
    for route, callback in _api_views(get_resolver().url_patterns):
        view = getattr(callback, "cls", None)
        actions = getattr(callback, "actions", None)
        takes_post = "post" in actions if actions else hasattr(view, "post")
        if view is None or not takes_post:
            continue
        if not (issubclass(view, IdempotentMixin) or getattr(view, "idempotency_exempt", None)):
            undecided.append(f"{route} ({view.__name__})")

    assert undecided == []


def test_the_schema_documents_the_header_where_it_is_taken(api_client) -> None:
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    jobs = schema["paths"]["/api/v1/jobs"]["post"]
    token = schema["paths"]["/api/v1/auth/token"]["post"]
    headers = {p["name"] for p in jobs["parameters"] if p["in"] == "header"}
    assert "Idempotency-Key" in headers
    assert "409" in jobs["responses"]
    assert "Idempotent-Replayed" in jobs["responses"]["202"]["headers"]
    assert "Idempotency-Key" not in {p["name"] for p in token.get("parameters", [])}
    assert "`Idempotency-Key` is ignored here" in token["description"]


@pytest.mark.django_db(transaction=True)
def test_a_claim_is_one_insert_without_a_transaction_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.test.utils import CaptureQueriesContext

    from config.api.idempotency.store import idempotency_claim

    commits: list[None] = []
    commit = connection.commit
    monkeypatch.setattr(connection, "commit", lambda: commits.append(None) or commit())
    claim = {"scope": "user:1", "key": KEY, "method": "POST", "path": "/x", "fingerprint": "f"}

    with CaptureQueriesContext(connection) as captured:
        first = idempotency_claim(**claim)

    assert [query["sql"].split(" ")[0] for query in captured.captured_queries] == ["INSERT"]
    assert commits == []
    assert first.replay is False
    assert IdempotencyKey.objects.get().pk == first.row.pk


@pytest.mark.django_db(transaction=True)
def test_a_clashing_claim_inside_a_transaction_leaves_it_usable() -> None:
    from django.db import transaction

    from config.api.idempotency.store import IdempotencyKeyInProgress, idempotency_claim

    claim = {"scope": "user:1", "key": KEY, "method": "POST", "path": "/x", "fingerprint": "f"}
    idempotency_claim(**claim)

    with transaction.atomic():
        with pytest.raises(IdempotencyKeyInProgress):
            idempotency_claim(**claim)
        assert IdempotencyKey.objects.count() == 1
