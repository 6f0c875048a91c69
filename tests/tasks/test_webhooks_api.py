"""`/api/v1/webhooks`: every line of the contract (API.md, Webhooks) through HTTP."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from realtime.broadcast import broadcast
from tasks.models import WebhookDelivery, WebhookEndpoint
from tests.factories import AdminFactory, GuestFactory, UserFactory
from tests.tasks.jobs_http import client_for
from tests.tasks.webhook_receiver import Receiver
from tests.tasks.webhooks_helpers import (
    DELIVERY_FIELDS,
    ENDPOINT_FIELDS,
    URL,
    attempt,
    delivery_url,
    endpoint_for,
)

pytestmark = pytest.mark.django_db

TARGET = "http://127.0.0.2:9/hook"
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def create(user: Any, **fields: Any) -> Any:
    body = {"url": TARGET, "events": ["notification", "job.finished"]} | fields
    return client_for(user).post(URL, body, format="json")


def test_create_without_a_secret_generates_one_shown_once(webhook_settings: Any) -> None:
    user = UserFactory()

    response = create(user)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == ENDPOINT_FIELDS | {"secret"}
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32
    assert (body["url"], body["events"], body["enabled"]) == (
        TARGET,
        ["notification", "job.finished"],
        True,
    )
    again = client_for(user).get(f"{URL}/{body['id']}").json()
    assert "secret" not in again
    assert set(again) == ENDPOINT_FIELDS


def test_create_with_a_secret_keeps_it(webhook_settings: Any) -> None:
    response = create(UserFactory(), secret=SECRET)

    assert response.status_code == 201
    assert WebhookEndpoint.objects.get(pk=response.json()["id"]).secret == SECRET


@pytest.mark.parametrize(
    "secret",
    [
        "abc",
        "whsec_not*base64",
        "whsec_" + base64.b64encode(b"x" * 23).decode(),
        "whsec_" + base64.b64encode(b"x" * 65).decode(),
        base64.b64encode(b"x" * 32).decode(),
    ],
)
def test_a_bad_secret_is_a_validation_error(webhook_settings: Any, secret: str) -> None:
    response = create(UserFactory(), secret=secret)

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["secret"]


@pytest.mark.parametrize("events", [[], ["post.nope"], "notification", ["ping"], None])
def test_events_must_be_realtime_event_names(webhook_settings: Any, events: Any) -> None:
    response = create(UserFactory(), events=events)

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["events"]


def test_every_realtime_event_name_may_be_subscribed(webhook_settings: Any) -> None:
    names = [
        "post.published",
        "comment.created",
        "comment.updated",
        "comment.deleted",
        "job.progress",
        "job.output",
        "job.finished",
        "notification",
    ]

    response = create(UserFactory(), events=names)

    assert (response.status_code, response.json()["events"]) == (201, names)


def test_every_bad_field_is_named_at_once(webhook_settings: Any) -> None:
    response = create(UserFactory(), url="http://10.0.0.1/", events=["x"], secret="nope")

    assert set(response.json()["error"]["details"]) == {"url", "events", "secret"}


def test_anonymous_callers_are_refused(api_client: Any) -> None:
    assert api_client.get(URL).status_code == 401


def test_a_guest_may_have_endpoints(webhook_settings: Any) -> None:
    assert create(GuestFactory()).status_code == 201


def test_the_list_is_the_callers_own_endpoints_newest_first(webhook_settings: Any) -> None:
    user = UserFactory()
    first, second = endpoint_for(user, TARGET), endpoint_for(user, TARGET)
    endpoint_for(UserFactory(), TARGET)

    body = client_for(user).get(URL).json()

    assert body["count"] == 2
    assert [item["id"] for item in body["results"]] == [str(second.pk), str(first.pk)]


def test_an_admin_lists_only_their_own_endpoints(webhook_settings: Any) -> None:
    endpoint_for(UserFactory(), TARGET)

    assert client_for(AdminFactory()).get(URL).json()["count"] == 0


@pytest.mark.parametrize("caller", [UserFactory, AdminFactory])
@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("patch", ""), ("delete", ""), ("get", "/deliveries"), ("post", "/test")],
)
def test_someone_elses_endpoint_is_not_found(
    webhook_settings: Any, caller: Any, method: str, suffix: str
) -> None:
    endpoint = endpoint_for(UserFactory(), TARGET)

    response = getattr(client_for(caller()), method)(
        f"{URL}/{endpoint.pk}{suffix}", {}, format="json"
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_an_unknown_or_malformed_id_is_not_found(webhook_settings: Any) -> None:
    client = client_for(UserFactory())

    assert client.get(f"{URL}/0190a0a0-0000-7000-8000-000000000000").status_code == 404
    assert client.get(f"{URL}/not-an-id").status_code == 404


def test_patch_changes_url_and_events(webhook_settings: Any) -> None:
    endpoint = endpoint_for(UserFactory(), TARGET)

    response = client_for(endpoint.owner).patch(
        f"{URL}/{endpoint.pk}",
        {"url": "http://127.0.0.2:10/other", "events": ["comment.created"]},
        format="json",
    )

    assert response.status_code == 200
    assert (response.json()["url"], response.json()["events"]) == (
        "http://127.0.0.2:10/other",
        ["comment.created"],
    )


def test_patch_refuses_a_private_url(webhook_settings: Any) -> None:
    endpoint = endpoint_for(UserFactory(), TARGET)

    response = client_for(endpoint.owner).patch(
        f"{URL}/{endpoint.pk}", {"url": "http://192.168.0.1/"}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["url"]


def test_patch_with_a_secret_rotates_it_for_a_day_of_overlap(webhook_settings: Any) -> None:
    endpoint = endpoint_for(UserFactory(), TARGET)
    old = endpoint.secret

    response = client_for(endpoint.owner).patch(
        f"{URL}/{endpoint.pk}", {"secret": SECRET}, format="json"
    )

    assert response.status_code == 200
    assert "secret" not in response.json()
    assert response.json()["previous_secret_expires_at"] is not None
    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.previous_secret) == (SECRET, old)


def test_patch_enabled_re_enables_a_disabled_endpoint(webhook_settings: Any) -> None:
    endpoint = endpoint_for(UserFactory(), TARGET)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False)

    response = client_for(endpoint.owner).patch(
        f"{URL}/{endpoint.pk}", {"enabled": True}, format="json"
    )

    assert (response.status_code, response.json()["enabled"]) == (200, True)


def test_delete_removes_the_endpoint_and_its_log(webhook_settings: Any) -> None:
    endpoint = endpoint_for(UserFactory(), TARGET)
    broadcast(f"user:{endpoint.owner_id}", "notification", {"kind": "comment_on_post"})

    response = client_for(endpoint.owner).delete(f"{URL}/{endpoint.pk}")

    assert response.status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookDelivery.objects.exists()


def test_test_sends_a_ping_and_the_log_shows_it(receiver: Receiver) -> None:
    endpoint = endpoint_for(UserFactory(), receiver.url)
    client = client_for(endpoint.owner)

    response = client.post(f"{URL}/{endpoint.pk}/test")

    assert response.status_code == 202
    assert set(response.json()) == DELIVERY_FIELDS
    assert (response.json()["event"], response.json()["status"]) == ("ping", "pending")
    attempt(WebhookDelivery.objects.get(pk=response.json()["id"]))
    (got,) = receiver.received
    assert got.headers["webhook-id"] == response.json()["id"]
    (logged,) = client.get(delivery_url(endpoint.pk)).json()["results"]
    assert (logged["id"], logged["status"], logged["attempts"], logged["response_status"]) == (
        response.json()["id"],
        "succeeded",
        1,
        200,
    )
    assert logged["last_attempt_at"] is not None


def test_the_delivery_log_is_newest_first_with_every_contract_field(
    webhook_settings: Any,
) -> None:
    endpoint = endpoint_for(UserFactory(), TARGET)
    for _ in range(3):
        broadcast(f"user:{endpoint.owner_id}", "notification", {"kind": "comment_on_post"})

    body = client_for(endpoint.owner).get(delivery_url(endpoint.pk)).json()

    assert body["count"] == 3
    ids = [item["id"] for item in body["results"]]
    assert ids == sorted(ids, reverse=True)
    assert all(set(item) == DELIVERY_FIELDS for item in body["results"])
    assert {item["status"] for item in body["results"]} == {"pending"}


@pytest.mark.parametrize("page_size", [1, 20])
def test_the_delivery_log_costs_the_same_queries_whatever_the_page_size(
    webhook_settings: Any, django_assert_num_queries: Any, page_size: int
) -> None:
    endpoint = endpoint_for(UserFactory(), TARGET)
    for _ in range(page_size):
        broadcast(f"user:{endpoint.owner_id}", "notification", {"kind": "comment_on_post"})
    client = client_for(endpoint.owner)

    # user (auth), endpoint, count, page with jobs
    with django_assert_num_queries(4):
        response = client.get(delivery_url(endpoint.pk), {"limit": page_size})
    assert len(response.json()["results"]) == page_size


@pytest.mark.parametrize("page_size", [1, 20])
def test_the_endpoint_list_costs_the_same_queries_whatever_the_page_size(
    webhook_settings: Any, django_assert_num_queries: Any, page_size: int
) -> None:
    user = UserFactory()
    for _ in range(page_size):
        endpoint_for(user, TARGET)
    client = client_for(user)

    with django_assert_num_queries(3):
        response = client.get(URL, {"limit": page_size})
    assert len(response.json()["results"]) == page_size


def test_the_paths_answer_with_and_without_a_trailing_slash(webhook_settings: Any) -> None:
    endpoint = endpoint_for(UserFactory(), TARGET)
    client = client_for(endpoint.owner)

    assert client.get(f"{URL}/").status_code == 200
    assert client.get(f"{URL}/{endpoint.pk}/").status_code == 200
    assert client.post(f"{URL}/{endpoint.pk}/test/").status_code == 202
