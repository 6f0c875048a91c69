"""Helpers for plain representations (the dicts services broadcast and views return)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings

API_PREFIX = "/api/v1/"


def iso_time(value: datetime | None) -> str | None:
    """A time as the API writes it (as DRF renders it): ISO 8601 in UTC, `Z` for +00:00."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


def api_url(path: str) -> str:
    """The absolute URL of an API path, on SITE_URL: representations are cached and broadcast,
    so they cannot depend on the Host header of whichever request built them."""
    return f"{settings.SITE_URL}{API_PREFIX}{path}"
