"""Fixtures of the tasks tests: the local OpenAI-compatible provider the assistant talks to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tasks.fake_openai import FakeOpenAI


@pytest.fixture
def provider(settings) -> Iterator[FakeOpenAI]:
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
def no_provider(settings) -> None:
    settings.OPENAI_BASE_URL = ""
    settings.OPENAI_API_KEY = ""
