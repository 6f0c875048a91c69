from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.live import live_server

# Playwright's 5 s for an expectation is short on two cores shared with the server (ReDoc
# alone takes seconds to lay out the schema): 20 s, as the old --virtual-time-budget.
expect.set_options(timeout=20_000)

# Every host but 127.0.0.1 unresolvable: the pages must work with no network.
OFFLINE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


@pytest.fixture(scope="module")
def live_url(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[str]:
    """One real server for the module: `manage.py serve` as `make run` starts it."""
    with django_db_blocker.unblock(), live_server() as base_url:
        yield base_url


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's chromium driven by Playwright (its own browser builds are never downloaded),
    one per module; each test opens its own contexts, so nothing leaks between tests.

    Playwright's sync API marks its event loop as running in this thread between its calls,
    so Django takes the test's own database calls for calls from async code and refuses
    them: they are allowed while the browser is up (the test's code is sync all the same).
    """
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=executable, args=OFFLINE_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _hang_up_websockets() -> None:
    """The root conftest's async fixture cannot run while Playwright's loop is marked running;
    these tests open no in-process WebSocket for it to hang up."""
