"""Pieces the content viewsets share."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound
from rest_framework.request import Request

# Query parameters that page or sort a list without narrowing it.
PAGING_PARAMETERS = frozenset({"limit", "offset", "cursor", "pagination", "ordering"})


def is_unfiltered(request: Request) -> bool:
    return set(request.query_params) <= PAGING_PARAMETERS


def is_default_first_page(request: Request, default_limit: int) -> bool:
    """No query, or only the defaults spelt out (`limit=<default>`, `offset=0`): the same
    answer as no query, a few fixed URLs (so caching them by URL stays bounded)."""
    defaults = {"limit": str(default_limit), "offset": "0"}
    params = request.query_params
    return all(name in defaults and params.getlist(name) == [defaults[name]] for name in params)


def found(value: Any) -> Any:
    """`value`, or a 404 for None (a selector's answer for missing and invisible alike)."""
    if value is None:
        raise NotFound()
    return value
