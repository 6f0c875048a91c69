"""Fixtures of the tasks tests: the webhook tests' settings and live receiver, and the local
OpenAI-compatible provider the AI assistant talks to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.tasks.fake_openai import FakeOpenAI
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


@pytest.fixture
def provider(settings: Any) -> Iterator[FakeOpenAI]:
    """A fake provider on 127.0.0.1, configured as the server's OPENAI_BASE_URL; a short
    OPENAI_TIMEOUT so the slow cases end quickly."""
    with FakeOpenAI() as fake:
        settings.OPENAI_BASE_URL = fake.url
        settings.OPENAI_API_KEY = "sk-agora-test"
        settings.OPENAI_MODEL = "fake-model-1"
        settings.OPENAI_ALLOWED_MODELS = ["fake-model-2"]
        settings.OPENAI_TIMEOUT = 4.0
        yield fake


@pytest.fixture
def no_provider(settings: Any) -> None:
    settings.OPENAI_BASE_URL = ""
    settings.OPENAI_API_KEY = ""
