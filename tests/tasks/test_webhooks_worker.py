"""Deliveries through a real Celery worker: a receiver that is down for a while gets every
event once it is back, each exactly once by `webhook-id`."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from realtime.broadcast import broadcast
from tasks.models import WebhookDelivery, WebhookDeliveryStatus
from tasks.services import jobs_sweep
from tests.factories import UserFactory
from tests.tasks.webhook_receiver import Receiver
from tests.tasks.webhooks_helpers import endpoint_for

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = 12


def wait_until(condition: Any, *, timeout: float = 30.0, sweep: bool = False) -> None:
    """Poll `condition` (bounded), running the engine's sweep between polls if asked (beat
    does it every JOB_SWEEP_SECONDS in a deployment)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        if sweep:
            jobs_sweep()
        time.sleep(0.1)


def test_a_receiver_down_for_a_while_gets_every_event_exactly_once_when_back(
    webhook_settings: Any, celery_worker: Any
) -> None:
    webhook_settings.WEBHOOK_RETRY_SCHEDULE = [0.5] * 7
    receiver = Receiver().start()
    port = receiver.port
    receiver.stop()
    owner = UserFactory()
    endpoint = endpoint_for(owner, f"http://127.0.0.2:{port}/hook")

    for number in range(EVENTS):
        broadcast(f"user:{owner.pk}", "notification", {"kind": "comment_on_post", "n": number})
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    wait_until(lambda: not deliveries.filter(attempts=0).exists())
    assert not deliveries.filter(status=WebhookDeliveryStatus.SUCCEEDED).exists()

    back = Receiver(port=port).start()
    try:
        wait_until(
            lambda: deliveries.filter(status=WebhookDeliveryStatus.SUCCEEDED).count() == EVENTS,
            sweep=True,
        )
        jobs_sweep()
        time.sleep(0.5)
        counts = Counter(back.ids())
    finally:
        back.stop()

    assert set(counts) == {str(pk) for pk in deliveries.values_list("pk", flat=True)}
    assert set(counts.values()) == {1}
    assert sorted(json.loads(d.body)["data"]["n"] for d in deliveries) == list(range(EVENTS))
