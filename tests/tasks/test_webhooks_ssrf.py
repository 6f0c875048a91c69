"""SSRF: targets in private, loopback, link-local, reserved, multicast or unspecified ranges
are refused when an endpoint is saved (400 on `url`) with WEBHOOK_ALLOWED_NETWORKS unset, and
again at send time (a name that resolves to loopback by then); no redirect is followed, the
answer is read only up to its cap, and a receiver slower than the timeout is a failure."""

from __future__ import annotations

from typing import Any

import pytest

from realtime.broadcast import broadcast
from tasks.models import WebhookDelivery
from tests.factories import UserFactory
from tests.tasks.jobs_http import client_for
from tests.tasks.webhook_receiver import Receiver
from tests.tasks.webhooks_helpers import URL, attempt, endpoint_for

pytestmark = pytest.mark.django_db

REFUSED = [
    "http://127.0.0.1/hook",
    "http://127.0.0.2:8080/hook",
    "http://localhost/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://240.0.0.1/hook",
    "http://[::1]/hook",
    "http://[::]/hook",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[2002:7f00:1::]/hook",
    "http://2130706433/hook",
]


@pytest.mark.parametrize("url", REFUSED)
def test_a_private_target_is_refused_at_creation(settings: Any, url: str) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = []

    response = client_for(UserFactory()).post(
        URL, {"url": url, "events": ["notification"]}, format="json"
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], list(error["details"])) == ("validation_error", ["url"])


@pytest.mark.parametrize(
    "url", ["ftp://example.org/hook", "http:///hook", "http://user:pw@127.0.0.2/hook", "nope"]
)
def test_a_url_that_is_not_a_plain_http_target_is_refused(webhook_settings: Any, url: str) -> None:
    response = client_for(UserFactory()).post(
        URL, {"url": url, "events": ["notification"]}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["url"]


def test_an_allowed_network_admits_its_addresses_only(webhook_settings: Any) -> None:
    client = client_for(UserFactory())

    allowed = client.post(
        URL, {"url": "http://127.0.0.2:9/h", "events": ["notification"]}, format="json"
    )
    refused = client.post(
        URL, {"url": "http://127.0.0.3:9/h", "events": ["notification"]}, format="json"
    )

    assert (allowed.status_code, refused.status_code) == (201, 400)


def test_a_name_resolving_to_loopback_at_send_time_is_refused_without_a_request(
    settings: Any,
) -> None:
    # Saved while the operator allowed loopback; by the time of the send only 127.0.0.2 is.
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    server = Receiver(port=0).start()
    try:
        response = client_for(UserFactory()).post(
            URL,
            {"url": f"http://localhost:{server.port}/hook", "events": ["notification"]},
            format="json",
        )
        assert response.status_code == 201
        owner_id = response.json()["id"]
        settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.2/32"]
        from tasks.models import WebhookEndpoint

        owner = WebhookEndpoint.objects.get(pk=owner_id).owner
        broadcast(f"user:{owner.pk}", "notification", {"kind": "comment_on_post"})
        delivery = WebhookDelivery.objects.get()

        attempt(delivery)

        delivery.refresh_from_db()
        assert delivery.status == "failed"
        assert delivery.error.startswith("Refused: The host resolves to an address that is not")
        assert delivery.response_status is None
        assert server.received == []
    finally:
        server.stop()


def test_a_redirect_is_not_followed_and_counts_as_a_failure(receiver: Receiver) -> None:
    target = Receiver().start()
    try:
        receiver.mode = "redirect"
        receiver.redirect_to = target.url
        endpoint = endpoint_for(UserFactory(), receiver.url)
        broadcast(f"user:{endpoint.owner_id}", "notification", {"kind": "comment_on_post"})
        delivery = WebhookDelivery.objects.get()

        attempt(delivery)

        delivery.refresh_from_db()
        assert (delivery.status, delivery.response_status) == ("failed", 302)
        assert len(receiver.received) == 1
        assert target.received == []
    finally:
        target.stop()


def test_an_oversized_answer_is_read_only_up_to_the_cap(receiver: Receiver, settings: Any) -> None:
    from tasks import webhook_transport

    settings.WEBHOOK_RESPONSE_MAX_BYTES = 1024
    receiver.mode = "huge"

    answer = webhook_transport.post(receiver.url, b"{}", {"Content-Type": "application/json"})

    assert (answer.status, len(answer.body), answer.truncated) == (200, 1024, True)


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt(
    receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    receiver.mode = "slow"
    endpoint = endpoint_for(UserFactory(), receiver.url)
    broadcast(f"user:{endpoint.owner_id}", "notification", {"kind": "comment_on_post"})
    delivery = WebhookDelivery.objects.get()

    attempt(delivery)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.error) == ("failed", "No answer within 0.5 s.")


def test_a_receiver_that_is_down_is_a_failed_attempt(webhook_settings: Any) -> None:
    server = Receiver().start()
    url = server.url
    server.stop()
    endpoint = endpoint_for(UserFactory(), url)
    broadcast(f"user:{endpoint.owner_id}", "notification", {"kind": "comment_on_post"})
    delivery = WebhookDelivery.objects.get()

    attempt(delivery)

    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.error.startswith("ConnectionRefusedError")
