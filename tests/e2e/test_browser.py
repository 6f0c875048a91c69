"""Debian's chromium renders the documentation pages with no network but 127.0.0.1."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.factories import PASSWORD, UserFactory
from tests.live import free_port

pytestmark = [pytest.mark.browser, pytest.mark.live_server]

OFFLINE_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def _chromium() -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    return chromium


def render(url: str, profile: Path) -> str:
    """The DOM after the page's scripts ran, every host but 127.0.0.1 unresolvable."""
    result = subprocess.run(
        [
            _chromium(),
            *OFFLINE_FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def test_swagger_ui_renders_the_api_offline(live_url: str, tmp_path: Path) -> None:
    dom = render(f"{live_url}/docs", tmp_path)

    assert 'class="swagger-ui' in dom
    assert "Agora API" in dom
    assert "/api/v1/demo/jobs" in dom
    assert "Authorize" in dom


def test_redoc_renders_the_api_offline(live_url: str, tmp_path: Path) -> None:
    dom = render(f"{live_url}/redoc", tmp_path)

    assert "Agora API" in dom
    assert "/api/v1/demo/jobs" in dom


class EvaluationFailed(Exception):
    """DevTools refused to evaluate, e.g. while the page is still navigating."""


class Page:
    """A page driven over the DevTools protocol: just enough to run script in it."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    def evaluate(self, expression: str) -> Any:
        message_id = next(self._ids)
        self._socket.send(
            json.dumps(
                {
                    "id": message_id,
                    "method": "Runtime.evaluate",
                    "params": {"expression": expression, "returnByValue": True},
                }
            )
        )
        while True:
            reply = json.loads(self._socket.recv(timeout=10))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise EvaluationFailed(reply["error"])
                return reply["result"]["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if value := self.evaluate(expression):
                    return value
            except EvaluationFailed:
                pass
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {expression}")


@contextmanager
def open_page(url: str, profile: Path) -> Iterator[Page]:
    port = free_port()
    browser = subprocess.Popen(
        [
            _chromium(),
            *OFFLINE_FLAGS,
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        targets: list[dict[str, Any]] = []
        while not targets and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=2) as reply:
                    targets = [t for t in json.load(reply) if t["type"] == "page"]
            except OSError:
                time.sleep(0.2)
        assert targets, "chromium did not open its debugging port"
        with connect(targets[0]["webSocketDebuggerUrl"], max_size=None) as socket:
            yield Page(socket)
    finally:
        browser.terminate()
        browser.wait(timeout=10)


FILL_PASSWORD_FLOW = """
(() => {
  const setValue = (input, value) => {
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(input, value);
    input.dispatchEvent(new Event("input", {bubbles: true}));
  };
  const username = document.querySelector("#oauth_username");
  if (!username) return false;
  setValue(username, %s);
  setValue(document.querySelector("#oauth_password"), %s);
  const container = username.closest(".auth-container");
  container.querySelector("button.authorize").click();
  return true;
})()
"""


@pytest.mark.django_db(transaction=True)
def test_swagger_authorize_button_logs_in_with_the_password_flow(
    live_url: str, tmp_path: Path
) -> None:
    member = UserFactory(username="swagger-müller")

    with open_page(f"{live_url}/docs", tmp_path) as page:
        page.wait_for("!!document.querySelector('.btn.authorize')")
        page.evaluate("document.querySelector('.btn.authorize').click()")
        page.wait_for(FILL_PASSWORD_FLOW % (json.dumps(member.username), json.dumps(PASSWORD)))
        token = page.wait_for(
            "ui.authSelectors.authorized().getIn(['passwordFlow', 'token', 'access_token'])"
        )

    me = urllib.request.Request(
        f"{live_url}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(me, timeout=10) as response:
        assert json.load(response)["username"] == "swagger-müller"
