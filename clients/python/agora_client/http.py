"""REST over the standard library: `urllib` run in a worker thread.

The SDK's only dependency is `websockets`; an HTTP client library would add one for a handful
of small JSON calls (login, refresh, tickets, the app's own REST calls), which a thread each
serves well. Every status comes back as a `Response`; only network failures raise.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from agora_client.errors import NetworkError

USER_AGENT = "agora-client-python/0.1"


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """The API never redirects; following one would resend credentials elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _blocking_request(
    method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float
) -> Response:
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
    try:
        with _opener.open(request, timeout=timeout) as answer:
            return Response(answer.status, answer.read(), _lower(answer.headers.items()))
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, error.read(), _lower(error.headers.items()))
    except (urllib.error.URLError, OSError) as error:
        raise NetworkError(f"{method} {url}: {error}") from error


def _lower(items: Any) -> dict[str, str]:
    return {key.lower(): value for key, value in items}


async def http_request(
    method: str,
    url: str,
    *,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Response:
    """One HTTP exchange in a worker thread; `NetworkError` when no answer came."""
    all_headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
    body = None
    if json_body is not None:
        body = json.dumps(json_body).encode()
        all_headers["Content-Type"] = "application/json"
    return await asyncio.to_thread(_blocking_request, method, url, body, all_headers, timeout)
