"""`GET notifications` and `POST notifications/read`: the caller's own, newest first."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.services import api_key_create
from realtime.models import Notification
from realtime.representations import notification_representation
from realtime.services import MARK_READ_MAX_IDS
from tests.factories import GuestFactory
from tests.openapi import assert_matches, openapi_document
from tests.realtime.notifications import (
    READ_URL,
    URL,
    NotificationFactory,
    client_for,
    created_days_ago,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(user: Any) -> APIClient:
    return client_for(user)


def ids_of(response: Any) -> list[str]:
    return [n["id"] for n in response.json()["results"]]


def unread_count(user: Any) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


# --- GET notifications ----------------------------------------------------------------------


def test_list_is_the_callers_own_newest_first(user: Any, client: APIClient) -> None:
    older = created_days_ago(NotificationFactory(recipient=user), 3)
    newer = created_days_ago(NotificationFactory(recipient=user, read=True), 1)
    NotificationFactory()

    response = client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["results"] == [
        notification_representation(newer),
        notification_representation(older),
    ]
    assert_matches(body, URL, "get", 200)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", ["unread"]), ("false", ["read"]), ("", ["read", "unread"])],
)
def test_the_unread_filter(user: Any, client: APIClient, value: str, expected: list[str]) -> None:
    notifications = {
        "unread": created_days_ago(NotificationFactory(recipient=user), 2),
        "read": created_days_ago(NotificationFactory(recipient=user, read=True), 1),
    }

    response = client.get(URL, {"unread": value})

    assert ids_of(response) == [str(notifications[name].pk) for name in expected]


@pytest.mark.parametrize("value", ["yes", "2", "unread", "tru"])
def test_a_bad_unread_value_is_a_400(client: APIClient, value: str) -> None:
    response = client.get(URL, {"unread": value})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "unread" in error["details"]


def test_the_list_pages_by_offset_and_by_cursor(user: Any, client: APIClient) -> None:
    notifications = [created_days_ago(NotificationFactory(recipient=user), d) for d in range(5)]
    expected = [str(n.pk) for n in notifications]

    first = client.get(URL, {"limit": 2}).json()
    second = client.get(URL, {"limit": 2, "offset": 2}).json()
    cursor_first = client.get(URL, {"limit": 3, "cursor": ""}).json()
    cursor_second = client.get(cursor_first["next"]).json()

    assert [n["id"] for n in first["results"] + second["results"]] == expected[:4]
    assert first["count"] == 5
    assert [n["id"] for n in cursor_first["results"] + cursor_second["results"]] == expected
    assert cursor_second["next"] is None


@pytest.mark.parametrize("query", [{"limit": 0}, {"offset": -1}, {"cursor": "tampered"}])
def test_bad_paging_is_a_400(client: APIClient, query: dict[str, Any]) -> None:
    assert client.get(URL, query).status_code == 400


@pytest.mark.parametrize("unread", [None, "true"])
def test_list_query_count_does_not_grow_with_page_size(
    user: Any, client: APIClient, django_assert_num_queries: Any, unread: str | None
) -> None:
    NotificationFactory.create_batch(12, recipient=user)
    query = {"unread": unread} if unread else {}

    for limit in (2, 10):
        # the login session, the count, the page
        with django_assert_num_queries(3):
            response = client.get(URL, {"limit": limit, **query})
        assert len(response.json()["results"]) == limit


def test_anonymous_callers_get_401(api_client: APIClient) -> None:
    response = api_client.get(URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_guest_reads_and_marks_their_own(db: None) -> None:
    guest = GuestFactory()
    notification = NotificationFactory(recipient=guest, kind="job_finished", data={})
    client = client_for(guest)

    listed = client.get(URL)
    marked = client.post(READ_URL, {"ids": [str(notification.pk)]}, format="json")

    assert ids_of(listed) == [str(notification.pk)]
    assert marked.json() == {"updated": 1}


def test_an_api_key_acts_as_its_owner(user: Any) -> None:
    NotificationFactory(recipient=user)
    NotificationFactory()
    _, secret = api_key_create(user=user, name="Benachrichtigungen")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)

    assert client.get(URL).json()["count"] == 1
    assert client.post(READ_URL, {"all": True}, format="json").json() == {"updated": 1}


def test_both_path_forms_are_served(user: Any, client: APIClient) -> None:
    NotificationFactory(recipient=user)

    assert client.get(URL + "/").json()["count"] == 1
    assert client.post(READ_URL + "/", {"all": True}, format="json").json() == {"updated": 1}


# --- POST notifications/read ----------------------------------------------------------------


def test_marking_ids_counts_only_own_unread_ones(user: Any, client: APIClient) -> None:
    own = NotificationFactory.create_batch(2, recipient=user)
    already_read = NotificationFactory(recipient=user, read=True)
    others = NotificationFactory()
    ids = [str(n.pk) for n in [*own, already_read, others]]

    response = client.post(READ_URL, {"ids": ids}, format="json")

    assert response.status_code == 200
    assert response.json() == {"updated": 2}
    assert_matches(response.json(), READ_URL, "post", 200)
    assert unread_count(user) == 0
    others.refresh_from_db()
    assert others.read_at is None


def test_marking_all_then_again(user: Any, client: APIClient) -> None:
    NotificationFactory.create_batch(3, recipient=user)
    NotificationFactory()

    first = client.post(READ_URL, {"all": True}, format="json")
    again = client.post(READ_URL, {"all": True}, format="json")

    assert (first.json(), again.json()) == ({"updated": 3}, {"updated": 0})
    assert Notification.objects.filter(read_at__isnull=True).count() == 1


def test_read_ones_leave_the_unread_list(user: Any, client: APIClient) -> None:
    first, second = NotificationFactory.create_batch(2, recipient=user)

    client.post(READ_URL, {"ids": [str(first.pk)]}, format="json")
    unread = client.get(URL, {"unread": "true"})
    listed = client.get(URL).json()["results"]

    assert ids_of(unread) == [str(second.pk)]
    assert {n["id"]: n["read"] for n in listed} == {str(first.pk): True, str(second.pk): False}


def test_an_empty_id_list_marks_nothing(user: Any, client: APIClient) -> None:
    NotificationFactory(recipient=user)

    response = client.post(READ_URL, {"ids": []}, format="json")

    assert response.json() == {"updated": 0}
    assert unread_count(user) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "non_field_errors"),
        ({"all": False}, "all"),
        ({"ids": ["0193a000-0000-7000-8000-000000000001"], "all": True}, "non_field_errors"),
        ({"ids": ["0193a000-0000-7000-8000-000000000001"], "all": False}, "all"),
        ({"ids": "0193a000-0000-7000-8000-000000000001"}, "ids"),
        ({"ids": ["not-a-uuid"]}, "ids"),
        ({"ids": [42]}, "ids"),
        ({"ids": None}, "ids"),
        ({"ids": {"0": "0193a000-0000-7000-8000-000000000001"}}, "ids"),
        ({"all": "vielleicht"}, "all"),
    ],
    ids=[
        "neither",
        "all-false",
        "both",
        "ids-and-all-false",
        "ids-not-a-list",
        "not-a-uuid",
        "a-number",
        "null",
        "an-object",
        "all-not-boolean",
    ],
)
def test_a_bad_body_is_a_400_and_changes_nothing(
    user: Any, client: APIClient, body: Any, field: str
) -> None:
    NotificationFactory(recipient=user)

    response = client.post(READ_URL, body, format="json")

    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]
    assert unread_count(user) == 1


def test_more_than_500_ids_is_a_400(user: Any, client: APIClient) -> None:
    mine = NotificationFactory(recipient=user)
    ids = [str(mine.pk)] + [str(uuid.uuid4()) for _ in range(MARK_READ_MAX_IDS)]

    response = client.post(READ_URL, {"ids": ids}, format="json")

    assert response.status_code == 400
    assert "ids" in response.json()["error"]["details"]
    assert unread_count(user) == 1


def test_500_ids_are_fine(user: Any, client: APIClient) -> None:
    mine = NotificationFactory(recipient=user)
    ids = [str(mine.pk)] + [str(uuid.uuid4()) for _ in range(MARK_READ_MAX_IDS - 1)]

    response = client.post(READ_URL, {"ids": ids}, format="json")

    assert response.json() == {"updated": 1}


@pytest.mark.parametrize("body", ['{"all": tru', '[{"all": true}]'], ids=["not-json", "a-list"])
def test_a_body_that_is_not_a_json_object_is_malformed(
    user: Any, client: APIClient, body: str
) -> None:
    NotificationFactory(recipient=user)

    response = client.post(READ_URL, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
    assert unread_count(user) == 1


def test_anonymous_callers_cannot_mark(api_client: APIClient) -> None:
    NotificationFactory()

    response = api_client.post(READ_URL, {"all": True}, format="json")

    assert response.status_code == 401
    assert Notification.objects.filter(read_at__isnull=True).count() == 1


def test_the_session_cookie_needs_the_csrf_header(user: Any) -> None:
    NotificationFactory(recipient=user)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)

    response = browser.post(READ_URL, {"all": True}, content_type="application/json")

    assert response.status_code == 403
    assert unread_count(user) == 1


@pytest.mark.django_db(transaction=True)
def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer(user: Any) -> None:
    client = client_for(user)
    NotificationFactory.create_batch(2, recipient=user)

    def mark() -> Any:
        return client.post(READ_URL, {"all": True}, format="json", HTTP_IDEMPOTENCY_KEY="read-1")

    first, again = mark(), mark()

    assert first.json() == again.json() == {"updated": 2}
    assert again["Idempotent-Replayed"] == "true"


# --- the OpenAPI document -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method"), [("/api/v1/notifications", "get"), ("/api/v1/notifications/read", "post")]
)
def test_both_operations_are_documented_with_their_errors(path: str, method: str) -> None:
    operation = openapi_document()["paths"][path][method]

    assert operation["summary"]
    assert operation["tags"] == ["notifications"]
    assert {"200", "400", "401", "429"} <= set(operation["responses"])


def test_the_list_documents_the_unread_filter_and_paging() -> None:
    parameters = openapi_document()["paths"][URL]["get"]["parameters"]
    by_name = {p["name"]: p for p in parameters}

    assert by_name["unread"]["schema"]["type"] == "boolean"
    assert {"limit", "offset", "cursor", "pagination"} <= set(by_name)


def test_the_read_body_takes_ids_or_all_and_an_idempotency_key() -> None:
    document = openapi_document()
    operation = document["paths"][READ_URL]["post"]
    schema_name = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][schema_name.rsplit("/", 1)[1]]

    assert schema["properties"]["ids"]["maxItems"] == MARK_READ_MAX_IDS
    assert [branch["required"] for branch in schema["oneOf"]] == [["ids"], ["all"]]
    assert "Idempotency-Key" in {p["name"] for p in operation["parameters"]}


def test_the_notification_kinds_are_one_named_enum() -> None:
    schemas = openapi_document()["components"]["schemas"]

    assert schemas["NotificationKindEnum"]["enum"] == [
        "comment_on_post",
        "reply_to_comment",
        "job_finished",
    ]


def test_a_job_notification_matches_the_documented_shape(user: Any, client: APIClient) -> None:
    NotificationFactory(
        recipient=user,
        kind="job_finished",
        data={"job": {"id": str(uuid.uuid4()), "kind": "export", "status": "succeeded"}},
    )

    assert_matches(client.get(URL).json(), URL, "get", 200)
