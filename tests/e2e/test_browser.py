"""Debian's chromium renders the documentation pages with no network but 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.live_server]


def render(url: str, profile: Path) -> str:
    """The DOM after the page's scripts ran, every host but 127.0.0.1 unresolvable."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
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
