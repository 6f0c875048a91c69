"""Cache-aside for public user profiles (`GET users/{id}` by anyone but the user and admins).

Entries live 15 minutes under a per-user version counter that the services writing public
fields move on after commit (see config.core.cache_aside.cache_version_bump).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.db import transaction

from config.core.cache_aside import cache_version, cache_version_bump, cached

PROFILE_TTL_SECONDS = 15 * 60
# Outlives the entries keyed on it, so an expired counter restarting at 1 finds none.
PROFILE_VERSION_TTL_SECONDS = 24 * 60 * 60


def profile_version_key(user_id: UUID | str) -> str:
    """The counter that moves on after a write to the user's public fields: a cached entry
    showing them (their profile, their own post list page) is keyed or validated on it."""
    return f"accounts:user:{user_id}:version"


def public_profile_cached(
    user_id: UUID, compute: Callable[[], dict[str, Any] | None]
) -> tuple[dict[str, Any] | None, bool]:
    key = f"accounts:user:{user_id}:profile:v{cache_version(profile_version_key(user_id))}"
    return cached(key, compute, PROFILE_TTL_SECONDS)


def public_profile_invalidate(user_id: UUID) -> None:
    """After the commit of a write to a public field (username, display name, bio)."""
    transaction.on_commit(
        lambda: cache_version_bump(
            profile_version_key(user_id), timeout=PROFILE_VERSION_TTL_SECONDS
        ),
        robust=True,
    )
