"""Clients for the content tests, authenticated through the real bearer-token path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories import AdminFactory, GuestFactory, UserFactory, bearer


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(user))
    return client


@pytest.fixture
def author(db: None) -> Any:
    return UserFactory(username="jürgen_müller", display_name="Jürgen Müller")


@pytest.fixture
def author_client(author: Any) -> APIClient:
    return client_for(author)


@pytest.fixture
def other(db: None) -> Any:
    return UserFactory(username="siobhán_o'brien")


@pytest.fixture
def other_client(other: Any) -> APIClient:
    return client_for(other)


@pytest.fixture
def admin(db: None) -> Any:
    return AdminFactory()


@pytest.fixture
def admin_client(admin: Any) -> APIClient:
    return client_for(admin)


@pytest.fixture
def guest_client(db: None) -> APIClient:
    return client_for(GuestFactory())


@pytest.fixture
def upload_storage(settings: Any, tmp_path: Path) -> Path:
    """Stored files and partial uploads in directories of the test's own; the media root."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.UPLOAD_PARTIAL_DIR = tmp_path / "partial"
    return settings.MEDIA_ROOT
