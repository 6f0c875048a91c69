"""Plain representations of accounts objects, for API output and realtime events alike."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from config.core.representations import iso_time


def public_user_representation(user: User) -> dict[str, Any]:
    """What anyone may read of a user (`GET users/{id}` by others)."""
    return {
        "id": str(user.pk),
        "username": user.username,
        "display_name": user.display_name,
        "bio": user.bio,
        "date_joined": iso_time(user.date_joined),
    }


def user_representation(user: User) -> dict[str, Any]:
    """What the user themself and admins see (`users/me`, the admin's user management)."""
    return {
        **public_user_representation(user),
        "email": user.email,
        "email_verified": user.email_verified,
        "role": str(user.role),
        "is_active": user.is_active,
        "last_login": iso_time(user.last_login),
    }
