"""Every path is served with and without its trailing slash, never through a redirect."""

from __future__ import annotations

import re

import pytest
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator

from config.api.routers import optional_slash


def _view() -> None:
    """A stand-in view."""


def test_optional_slash_matches_both_forms_and_names_its_segments() -> None:
    pattern = optional_slash("auth/api-keys/<key_id>", _view, name="key")

    for path in ("auth/api-keys/0193", "auth/api-keys/0193/"):
        match = pattern.resolve(path)
        assert match is not None
        assert match.kwargs == {"key_id": "0193"}
    assert pattern.resolve("auth/api-keys/0193/extra") is None


@pytest.mark.parametrize("route", ["posts.json", "a+b", "users/(?P<x>.*)"])
def test_optional_slash_refuses_regular_expressions(route: str) -> None:
    with pytest.raises(ValueError, match="routes hold"):
        optional_slash(route, _view, name="bad")


def _documented_paths() -> list[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [re.sub(r"\{\w+\}", "0193a0b4-7c1e-7000-8000-000000000000", p) for p in schema["paths"]]


@pytest.mark.parametrize("path", _documented_paths())
def test_every_documented_path_resolves_with_and_without_its_slash(path: str) -> None:
    bare, slashed = path.rstrip("/") or "/", path.rstrip("/") + "/"

    assert resolve(bare).func.__name__ == resolve(slashed).func.__name__
    assert resolve(bare).func.__name__ != "api_not_found"
