"""Helpers for plain representations (the dicts services broadcast and views return)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_time(value: datetime | None) -> str | None:
    """A time as the API writes it (as DRF renders it): ISO 8601 in UTC, `Z` for +00:00."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"
