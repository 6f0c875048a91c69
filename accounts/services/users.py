"""Writes to user records: profiles, and the admin's role and activation changes."""

from __future__ import annotations

from django.db import transaction
from rest_framework.exceptions import ValidationError

from accounts.models import Role, User
from accounts.services.events import auth_event_log
from accounts.services.sessions import login_sessions_revoke


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
        email_verified=role != Role.GUEST,
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


@transaction.atomic
def user_profile_update(*, user: User, **fields: str) -> User:
    """The owner's own editable fields (`display_name`, `bio`); anything else is refused."""
    editable = {"display_name", "bio"}
    unknown = set(fields) - editable
    if unknown:
        raise ValueError(f"Not editable by the owner: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(user, name, value)
    user.save(update_fields=[*fields])
    return user


@transaction.atomic
def user_update_by_admin(
    *, actor: User, user: User, role: str | None = None, is_active: bool | None = None
) -> User:
    """Change a user's role or activation. Takes effect on the user's next request, and a
    deactivation ends their logins and WebSocket connections at once."""
    if user.pk == actor.pk and ((role is not None and role != user.role) or is_active is False):
        raise ValidationError(
            {"non_field_errors": ["Admins cannot demote or deactivate themselves."]}
        )
    fields: list[str] = []
    if role is not None and role != user.role:
        old_role = user.role
        user.role = role
        user.is_staff = role == Role.ADMIN
        fields += ["role", "is_staff"]
        if role != Role.ADMIN and user.is_superuser:
            user.is_superuser = False
            fields.append("is_superuser")
        auth_event_log(
            "auth.role_changed", user=str(user.pk), actor=str(actor.pk), old=old_role, new=role
        )
    if is_active is not None and is_active != user.is_active:
        user.is_active = is_active
        fields.append("is_active")
        auth_event_log(
            "auth.user_activation_changed",
            user=str(user.pk),
            actor=str(actor.pk),
            is_active=is_active,
        )
    if fields:
        user.save(update_fields=fields)
    if is_active is False:
        login_sessions_revoke(user_id=user.pk, reason="deactivated")
    return user
