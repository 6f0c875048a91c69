"""Fixtures of the webhook tests: the settings they run under and a live receiver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.tasks.webhook_receiver import HOST, Receiver
from tests.tasks.webhooks_helpers import SCHEDULE


@pytest.fixture
def webhook_settings(settings: Any) -> Any:
    settings.WEBHOOK_ALLOWED_NETWORKS = [f"{HOST}/32"]
    settings.WEBHOOK_RETRY_SCHEDULE = SCHEDULE
    return settings


@pytest.fixture
def receiver(webhook_settings: Any) -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()
