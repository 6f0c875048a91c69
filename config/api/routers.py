"""URL patterns served with and without their trailing slash, never through a redirect.

API.md: every path under /api/, /health, /docs and /redoc answers both forms (a redirect would
turn a POST into a GET). Every urls.py builds its patterns with these two helpers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.urls import URLPattern, re_path
from rest_framework.routers import SimpleRouter

_PARAMETER = re.compile(r"<(\w+)>")
_LITERAL = re.compile(r"[\w/-]*")


def optional_slash(route: str, view: Callable[..., Any], *, name: str) -> URLPattern:
    """`route` (`auth/api-keys/<key_id>`: literal text, `<name>` for one path segment)
    matched with or without a trailing slash."""
    pieces = _PARAMETER.split(route)
    literals = pieces[::2]
    if not all(_LITERAL.fullmatch(piece) for piece in literals):
        raise ValueError(f"routes hold letters, digits, _, - and / only: {route!r}")
    pattern = "".join(
        f"(?P<{piece}>[^/]+)" if index % 2 else piece for index, piece in enumerate(pieces)
    )
    return re_path(rf"^{pattern}/?$", view, name=name)


class OptionalSlashRouter(SimpleRouter):
    """DRF's router, each route matched with or without its trailing slash."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"
