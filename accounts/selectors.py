"""Reads of the accounts app, each scoped to what its caller may see."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import ApiKey, LoginSession, User
from accounts.profile_cache import public_profile_cached
from accounts.representations import public_user_representation
from accounts.tokens import AccessClaims, access_token_read


def user_for_access_token(*, user_id: str, session_id: str) -> User | None:
    """The active user of a live login session, in one query: a revoked, expired or
    foreign session, or a deactivated user, makes the access token worthless at once.

    Every authenticated API request runs this. Built through the ORM, the query cost more CPU
    to compile than the database took to answer it (tests/perf/request_cpu.py); its SQL is
    fixed, so it is written once here and Django only maps the row back to a User.
    """
    try:
        session_uuid = uuid.UUID(session_id)
        user_uuid = uuid.UUID(user_id)
    except (TypeError, ValueError):
        return None
    ops = connection.ops
    found = list(
        User.objects.raw(
            _LIVE_LOGIN_USER_SQL.format(
                columns=", ".join(f"u.{ops.quote_name(column)}" for column in _USER_COLUMNS),
                user=ops.quote_name(User._meta.db_table),
                session=ops.quote_name(LoginSession._meta.db_table),
            ),
            [
                _USER_ID.get_db_prep_value(user_uuid, connection),
                _SESSION_ID.get_db_prep_value(session_uuid, connection),
                _EXPIRES_AT.get_db_prep_value(timezone.now(), connection),
            ],
        )
    )
    return found[0] if found else None


# The same filter as User.objects.filter(pk=…, is_active=True, login_sessions__pk=…,
# login_sessions__revoked_at__isnull=True, login_sessions__expires_at__gt=now).
_LIVE_LOGIN_USER_SQL = (
    "SELECT {columns} FROM {user} u INNER JOIN {session} s ON s.user_id = u.id"
    " WHERE u.id = %s AND u.is_active AND s.id = %s AND s.revoked_at IS NULL"
    " AND s.expires_at > %s"
)
_USER_COLUMNS = [field.column for field in User._meta.concrete_fields]
_USER_ID = User._meta.pk
_SESSION_ID = LoginSession._meta.pk
_EXPIRES_AT = LoginSession._meta.get_field("expires_at")


def user_for_raw_access_token(raw: str) -> tuple[User, AccessClaims] | None:
    """For credentials outside DRF (WebSocket handshakes): the token's live user and claims."""
    claims = access_token_read(raw)
    if claims is None:
        return None
    user = user_for_access_token(user_id=claims.user_id, session_id=claims.session_id)
    return (user, claims) if user is not None else None


def user_by_username(username: str) -> User | None:
    """Case-insensitive, as the unique index on LOWER(username) sees it."""
    return User.objects.alias(lowered=Lower("username")).filter(lowered=username.lower()).first()


def user_by_email(email: str) -> User | None:
    """Case-insensitive, as the unique index on LOWER(email) sees it."""
    return User.objects.alias(lowered=Lower("email")).filter(lowered=email.lower()).first()


def user_for_login(identifier: str) -> User | None:
    """The account a login name points at: its username first, else its email."""
    by_name = user_by_username(identifier)
    if by_name is not None or "@" not in identifier:
        return by_name
    return user_by_email(identifier)


def user_list() -> QuerySet[User]:
    return User.objects.order_by("-date_joined", "-id")


def user_get(*, user_id: uuid.UUID | str) -> User | None:
    return User.objects.filter(pk=user_id).first()


def user_public_profile(*, user_id: uuid.UUID) -> tuple[dict[str, Any] | None, bool]:
    """The public profile anyone may read (`id, username, display_name, bio, date_joined`),
    through the cache; None for an unknown user. Second item: whether the cache had it."""

    def compute() -> dict[str, Any] | None:
        user = user_get(user_id=user_id)
        return public_user_representation(user) if user is not None else None

    return public_profile_cached(user_id, compute)


def login_session_list(*, user: User) -> QuerySet[LoginSession]:
    """The user's live logins, newest first."""
    return LoginSession.objects.filter(
        user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-created_at")


def login_session_get(*, user: User, session_id: uuid.UUID | str) -> LoginSession | None:
    """One of `user`'s live logins; anyone else's is as absent as a missing one."""
    return login_session_list(user=user).filter(pk=session_id).first()


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).order_by("-created_at")


def api_key_get(*, user: User, key_id: uuid.UUID | str) -> ApiKey | None:
    """One of `user`'s own keys; another user's key is as absent as a missing one."""
    return ApiKey.objects.filter(user=user, pk=key_id).first()
