"""Debian's chromium renders the documentation pages with no network but 127.0.0.1."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.factories import PASSWORD, UserFactory

# All transactional, though only one test writes: pytest-django runs database tests first and
# the others last, which would split the module and start its server and browser twice.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.live_server,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def tab(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context()
    yield context.new_page()
    context.close()


def test_swagger_ui_renders_the_api_offline(live_url: str, tab: Page) -> None:
    tab.goto(f"{live_url}/docs")
    expect(tab.locator(".swagger-ui").first).to_contain_text("/api/v1/jobs/dead-letters")
    dom = tab.content()

    assert 'class="swagger-ui' in dom
    assert "Agora API" in dom
    assert "/api/v1/jobs/dead-letters" in dom
    assert "Authorize" in dom


def test_redoc_renders_the_api_offline(live_url: str, tab: Page) -> None:
    tab.goto(f"{live_url}/redoc")
    expect(tab.locator("body")).to_contain_text("/api/v1/jobs/dead-letters")
    dom = tab.content()

    assert "Agora API" in dom
    assert "/api/v1/jobs/dead-letters" in dom


def test_swagger_authorize_button_logs_in_with_the_password_flow(live_url: str, tab: Page) -> None:
    member = UserFactory(username="swagger-müller")

    tab.goto(f"{live_url}/docs")
    tab.locator(".btn.authorize").click()
    tab.locator("#oauth_username").fill(member.username)
    tab.locator("#oauth_password").fill(PASSWORD)
    container = tab.locator(".auth-container", has=tab.locator("#oauth_username"))
    container.locator("button.authorize").click()
    token = tab.wait_for_function(
        # A function, not an expression: a string expression would need eval, which the CSP
        # forbids; Playwright installs a function through DevTools instead.
        "() => ui.authSelectors.authorized().getIn(['passwordFlow', 'token', 'access_token'])"
    ).json_value()

    me = urllib.request.Request(
        f"{live_url}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(me, timeout=10) as response:
        assert json.load(response)["username"] == "swagger-müller"
