"""The JavaScript SDK (clients/js) against the real server: its node:test suite, run by Node.

The server is `manage.py serve` on this session's database (tests.live); the accounts are made
here and handed to Node in the environment, and the Node tests make their own posts and
comments over REST, as an application would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import PASSWORD, UserFactory
from tests.live import BASE_DIR, live_server

pytestmark = [pytest.mark.live_server]

SDK_DIR = BASE_DIR / "clients" / "js"
NODE_TIMEOUT_SECONDS = 90
# The first Node with a global WebSocket (behind --experimental-websocket; on by default in 22).
NODE_MIN_VERSION = (20, 10)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("needs Node.js >= 20.10")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    found = tuple(int(part) for part in version.stdout.strip().lstrip("v").split(".")[:2])
    if found < NODE_MIN_VERSION:
        pytest.skip(f"needs Node.js >= 20.10, found {version.stdout.strip()}")
    return node


@pytest.fixture(scope="module")
def server_url(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[str]:
    with django_db_blocker.unblock(), live_server() as base_url:
        yield base_url


def run_node_tests(base_url: str, usernames: list[str], files: list[Path]) -> str:
    env = {
        **os.environ,
        "AGORA_URL": base_url,
        "AGORA_USERS": ",".join(usernames),
        "AGORA_PASSWORD": PASSWORD,
        "NODE_NO_WARNINGS": "1",
    }
    result = subprocess.run(
        [_node(), "--experimental-websocket", "--test", "--test-reporter=spec", *map(str, files)],
        cwd=SDK_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_SECONDS,
    )
    output = result.stdout + result.stderr
    print(output)  # the spec report, with -s
    assert result.returncode == 0, output
    return output


@pytest.mark.django_db(transaction=True)
def test_the_sdk_suite_passes_against_a_live_server(server_url: str) -> None:
    users = [UserFactory(username=f"sdk-{name}") for name in ("alice", "bob", "carol", "dave")]
    files = sorted((SDK_DIR / "test").glob("*.test.mjs"))
    assert files

    output = run_node_tests(server_url, [user.username for user in users], files)

    # The spec reporter's summary lines: "<sign> tests 23", "<sign> pass 23", "<sign> fail 0".
    summary = dict(re.findall(r"^\S+ (tests|pass|fail|skipped|todo) (\d+)$", output, re.M))
    assert summary["fail"] == "0", output
    assert summary["skipped"] == summary["todo"] == "0", output
    assert int(summary["pass"]) == int(summary["tests"]) > 0, output
