"""`/live/` as served: the page, its static files and the policy it runs under.

tests/e2e/test_live_page.py drives it in a browser; this checks what the server sends.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

PAGE_SCRIPT = re.compile(r"<script\b[^>]*>", re.IGNORECASE)


@pytest.mark.parametrize("path", ["/live/", "/live"])
def test_the_page_is_served_under_the_policy_without_inline_script(path: str) -> None:
    response = Client().get(path)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    html = response.content.decode()
    tags = PAGE_SCRIPT.findall(html)
    assert len(tags) == 1
    assert 'src="/static/live/live.js"' in tags[0]
    assert 'data-sdk="/static/sdk/agora.js"' in tags[0]
    assert re.search(r"<script\b[^>]*>\s*[^<\s]", html) is None, "no inline script"
    assert '<label for="username">' in html
    assert '<label for="comment-body">' in html


@pytest.mark.parametrize(
    "path", ["/static/sdk/agora.js", "/static/live/live.js", "/static/live/live.css"]
)
def test_the_sdk_and_the_page_assets_are_static_files(path: str) -> None:
    response = Client().get(path)

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] in ("text/javascript", "text/css")
    assert b"".join(response.streaming_content)


def test_the_sdk_is_one_module_without_imports() -> None:
    response = Client().get("/static/sdk/agora.js")
    source = b"".join(response.streaming_content).decode()

    assert "export class AgoraClient" in source
    assert re.search(r"^\s*import\s", source, re.MULTILINE) is None


def test_the_api_index_links_the_page() -> None:
    assert Client().get("/").json()["live"] == "/live/"
