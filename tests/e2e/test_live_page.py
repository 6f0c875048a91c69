"""The live page (/live/) in Debian's chromium: two users meet on a post, in real time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect

from tests.factories import PASSWORD, UserFactory, bearer
from tests.live import http_request

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live_server,
    pytest.mark.django_db(transaction=True),
]


class Tab:
    """One user's browser context on the page, with what its console said."""

    def __init__(self, browser: Browser, live_url: str) -> None:
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        self.page.on(
            "response",
            lambda response: (
                response.status >= 400 and self.console.append(f"{response.status} {response.url}")
            ),
        )
        self.page.goto(f"{live_url}/live/")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.console.append(message.text)

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        self.page.get_by_label("Username or email").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def tabs(chromium: Browser, live_url: str) -> Iterator[list[Tab]]:
    opened: list[Tab] = []

    def open_tab() -> Tab:
        opened.append(Tab(chromium, live_url))
        return opened[-1]

    yield open_tab  # type: ignore[misc]
    for tab in opened:
        tab.context.close()
    for tab in opened:
        assert tab.console == [], "the page logged errors (a CSP violation is one)"


def publish(live_url: str, author: Any, title: str) -> dict[str, Any]:
    """A published post made over REST on the live server, as its author would."""
    status, _, body = http_request(
        "POST",
        f"{live_url}/api/v1/posts/",
        body=json.dumps({"title": title, "body": "Ein Beitrag.", "status": "published"}).encode(),
        headers={"Authorization": bearer(author), "Content-Type": "application/json"},
    )
    assert status == 201, body
    return json.loads(body)


def test_two_users_meet_on_a_post(live_url: str, tabs: Any) -> None:
    alice = UserFactory(username="alice-ümlaut")
    bob = UserFactory(username="bob-李")
    post = publish(live_url, alice, "Grüße aus dem Live-Test")

    alice_tab: Tab = tabs()
    bob_tab: Tab = tabs()
    alice_tab.sign_in(alice.username)
    bob_tab.sign_in(bob.email)
    for tab, name in ((alice_tab, alice.username), (bob_tab, bob.username)):
        expect(tab.page.locator("#whoami")).to_have_text(name)
        expect(tab.page.get_by_role("button", name=post["title"])).to_be_visible()
        expect(tab.page.get_by_role("status")).to_have_text("Live")

    # The feed is live: a post published now appears without a reload.
    fresh = publish(live_url, bob, "Frisch veröffentlicht")
    expect(alice_tab.page.get_by_role("button", name=fresh["title"])).to_be_visible()

    for tab in (alice_tab, bob_tab):
        tab.page.get_by_role("button", name=post["title"]).click()
        expect(tab.page.get_by_role("heading", name=post["title"])).to_be_visible()
    for tab in (alice_tab, bob_tab):
        presence = tab.page.get_by_role("list", name="Online now")
        expect(presence.get_by_role("listitem")).to_have_count(2)
        expect(presence).to_contain_text(alice.username)
        expect(presence).to_contain_text(bob.username)

    bob_tab.page.get_by_label("Your comment").press_sequentially("Hallo Alice, schön")
    expect(alice_tab.page.locator("#typing")).to_have_text(f"{bob.username} is typing…")
    expect(bob_tab.page.locator("#typing")).to_have_text("")

    bob_tab.page.get_by_role("button", name="Post comment").click()
    alice_comments = alice_tab.page.get_by_role("list", name="Comments")
    expect(alice_comments.get_by_role("listitem")).to_have_count(1)
    expect(alice_comments).to_contain_text("Hallo Alice, schön")
    expect(alice_comments).to_contain_text(bob.username)
    expect(bob_tab.page.get_by_role("list", name="Comments").get_by_role("listitem")).to_have_count(
        1
    )
    expect(bob_tab.page.get_by_label("Your comment")).to_have_value("")

    # Bob goes back to the feed: he leaves the room.
    bob_tab.page.get_by_role("button", name="Back to the feed").click()
    expect(
        alice_tab.page.get_by_role("list", name="Online now").get_by_role("listitem")
    ).to_have_count(1)


def test_wrong_password_is_refused_with_a_message(live_url: str, tabs: Any) -> None:
    member = UserFactory()
    tab: Tab = tabs()
    tab.sign_in(member.username, "not the password")
    expect(tab.page.get_by_role("alert").first).to_have_text("Wrong username, email or password.")
    expect(tab.page.get_by_role("heading", name="Feed")).to_be_hidden()
    # A 401 on the console is the browser reporting the refused request, not a page error.
    tab.console[:] = [line for line in tab.console if "401" not in line]
