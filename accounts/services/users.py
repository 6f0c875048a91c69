"""Writes to accounts. Registration and the token flows join this module with the auth work."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Role, User


@transaction.atomic
def user_ensure(
    *,
    username: str,
    email: str,
    password: str,
    role: Role = Role.USER,
    display_name: str = "",
) -> tuple[User, bool]:
    """The user with this username, created if missing; an existing one is left as it is."""
    existing = User.objects.filter(username=username).first()
    if existing is not None:
        return existing, False
    user = User(
        username=username,
        email=email,
        role=role,
        display_name=display_name,
        is_staff=role == Role.ADMIN,
    )
    user.set_password(password)
    user.full_clean()
    user.save()
    return user, True


@transaction.atomic
def user_ensure_superuser(*, username: str, email: str, password: str) -> tuple[User, bool]:
    """The local administrator, created with the password given if it does not exist yet."""
    existing = User.objects.filter(username=username).first()
    if existing is not None:
        return existing, False
    return User.objects.create_superuser(username=username, email=email, password=password), True
