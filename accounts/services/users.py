"""Writes to user records: profiles, and the admin's role and activation changes."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Role, User
from accounts.profile_cache import public_profile_invalidate
from accounts.services.events import auth_event_log
from accounts.services.sessions import login_sessions_revoke
from audits.services import AuditEvent, audit_changes, audit_record_write, audit_records_write
from config.core.errors import ValidationFailed

AUDITED_FIELDS = (
    "username",
    "email",
    "display_name",
    "role",
    "email_verified",
    "is_active",
    "is_staff",
    "is_superuser",
)


# The admin's user form also edits these.
ADMIN_FORM_FIELDS = (*AUDITED_FIELDS, "first_name", "last_name", "bio")


def user_audit_snapshot(user: User, fields: tuple[str, ...] = AUDITED_FIELDS) -> dict[str, Any]:
    """The fields of a user that audit records compare (never the password hash)."""
    return {name: getattr(user, name) for name in fields}


def user_admin_form_recorded(
    *, actor: User, user: User, before: dict[str, Any] | None, after: dict[str, Any]
) -> None:
    """Record what the admin site's user form saved: `user.created` for a new account (then
    `before` is None), else `user.updated` with the fields that differ.

    Role and activation are not part of it: the form hands those to `user_update_by_admin`,
    which records them itself.
    """
    changes = audit_changes(before or {}, after)
    if changes:
        public_profile_invalidate(user.pk)
        audit_record_write(
            action="user.updated" if before is not None else "user.created",
            target_type="user",
            target_id=user.pk,
            actor=actor,
            changes=changes,
        )


def user_admin_password_set_recorded(*, actor: User, user: User) -> None:
    """Record a password an admin set in the admin site (never the password itself)."""
    audit_record_write(
        action="user.password_changed", target_type="user", target_id=user.pk, actor=actor
    )


def _user_created(user: User) -> None:
    """Accounts made by an operator (commands, demo data) rather than by signing up."""
    audit_record_write(
        action="user.created",
        target_type="user",
        target_id=user.pk,
        changes=audit_changes({}, user_audit_snapshot(user)),
    )


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
    _user_created(user)
    return user, True


@transaction.atomic
def user_ensure_superuser(*, username: str, email: str, password: str) -> tuple[User, bool]:
    """The local administrator, created with the password given if it does not exist yet."""
    existing = User.objects.filter(username=username).first()
    if existing is not None:
        return existing, False
    user = User.objects.create_superuser(username=username, email=email, password=password)
    _user_created(user)
    return user, True


@transaction.atomic
def user_profile_update(*, user: User, **fields: str) -> User:
    """The owner's own editable fields (`display_name`, `bio`); anything else is refused."""
    editable = {"display_name", "bio"}
    unknown = set(fields) - editable
    if unknown:
        raise ValueError(f"Not editable by the owner: {sorted(unknown)}")
    before = {name: getattr(user, name) for name in fields}
    for name, value in fields.items():
        setattr(user, name, value)
    user.save(update_fields=[*fields])
    public_profile_invalidate(user.pk)
    changes = audit_changes(before, fields)
    if changes:
        audit_record_write(
            action="user.updated",
            target_type="user",
            target_id=user.pk,
            actor=user,
            changes=changes,
        )
    return user


@transaction.atomic
def user_update_by_admin(
    *, actor: User, user: User, role: str | None = None, is_active: bool | None = None
) -> User:
    """Change a user's role or activation. Takes effect on the user's next request, and a
    deactivation ends their logins and WebSocket connections at once."""
    if user.pk == actor.pk and ((role is not None and role != user.role) or is_active is False):
        raise ValidationFailed(
            {"non_field_errors": ["Admins cannot demote or deactivate themselves."]}
        )
    fields: list[str] = []
    events: list[AuditEvent] = []
    if role is not None and role != user.role:
        old_role = user.role
        before = user_audit_snapshot(user)
        user.role = role
        user.is_staff = role == Role.ADMIN
        fields += ["role", "is_staff"]
        if role != Role.ADMIN and user.is_superuser:
            user.is_superuser = False
            fields.append("is_superuser")
        events.append(
            AuditEvent(
                "user.role_changed",
                "user",
                user.pk,
                actor,
                audit_changes(before, user_audit_snapshot(user)),
            )
        )
        auth_event_log(
            "auth.role_changed", user=str(user.pk), actor=str(actor.pk), old=old_role, new=role
        )
    if is_active is not None and is_active != user.is_active:
        user.is_active = is_active
        fields.append("is_active")
        verb = "reactivated" if is_active else "deactivated"
        events.append(
            AuditEvent(
                f"user.{verb}", "user", user.pk, actor, {"is_active": [not is_active, is_active]}
            )
        )
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
    audit_records_write(events=events)
    return user
