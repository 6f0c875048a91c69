"""Origin policy for WebSocket handshakes (a browser's Origin must be one we serve or trust)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host


def handshake_origin(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"origin":
            return value.decode("latin-1")
    return None


def origin_allowed(origin: str | None) -> bool:
    """No Origin (non-browser clients) is judged by credentials alone, so it passes here."""
    if origin is None:
        return True
    if origin in settings.CORS_ALLOWED_ORIGINS:
        return True
    hostname = urlsplit(origin).hostname
    if not hostname:
        return False
    host = f"[{hostname}]" if ":" in hostname else hostname
    return validate_host(host, settings.ALLOWED_HOSTS)
