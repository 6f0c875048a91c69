from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import live_server


@pytest.fixture(scope="module")
def live_url(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[str]:
    """One real server for the module: `manage.py serve` as `make run` starts it."""
    with django_db_blocker.unblock(), live_server() as base_url:
        yield base_url
