"""Login validity in the cache, for answering bearer requests before Django.

config.http.public_cache answers some bearer GETs (a public post, the public feed page) from
Redis without Django. Django's authentication reads the login session and the user from the
database on every request (accounts.selectors.user_for_access_token); the fast path cannot, so
it reads what this module stores instead:

- `accounts:session:<sid>` → `(user_id, role, auth version, session expiry as epoch seconds)`,
  written after a login or a refresh commits, read back from the database after the version
  (the cache-aside order of config.core.cache_aside, so a concurrent revocation is never lost);
- `accounts:user:<id>:auth-version`, a version counter moved on after the commit of anything
  that changes what authentication would answer for the user: a login ended (logout, logout of
  one device, logout-all, password change or reset, token reuse, deactivation) or the user's
  role or activation changed (a post_save catch-all, `auth_fields_changed`).

An entry whose version is not the counter's current value is worthless: the request goes to
Django, which reads the database. A token whose entry is missing (a login from before this
existed, an entry evicted, a role change since) is simply served by Django; the entry comes back
with the next refresh. Entries live at most as long as an access token, so if a bump is lost to
a cache outage, what the fast path may still serve is public data, for at most that long.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from config.core.cache_aside import cache_set, cache_version, cache_version_bump

logger = logging.getLogger("agora.cache")

SESSION_KEY = "accounts:session:{session_id}"
AUTH_VERSION_KEY = "accounts:user:{user_id}:auth-version"
# Outlives every session entry keyed on it (see cache_version_bump).
AUTH_VERSION_TTL_SECONDS = 24 * 60 * 60
# The fields whose change makes a cached login stale (who the user is for the API).
AUTH_FIELDS = frozenset({"role", "is_active", "is_staff", "is_superuser"})


@dataclass(frozen=True)
class CachedLogin:
    user_id: str
    role: str
    version: int
    expires_at: float  # epoch seconds: the login session's absolute end


def session_key(session_id: str) -> str:
    return SESSION_KEY.format(session_id=session_id)


def auth_version_key(user_id: uuid.UUID | str) -> str:
    return AUTH_VERSION_KEY.format(user_id=user_id)


def login_remember(*, user_id: uuid.UUID | str, session_id: uuid.UUID | str) -> None:
    """After the commit of a login or refresh: cache what authentication would find.

    The version is read before the database, so a revocation that commits after this read
    moves the counter past the stored version.
    """
    from accounts.models import LoginSession

    version = cache_version(auth_version_key(user_id))
    now = timezone.now()
    session = (
        LoginSession.objects.filter(
            pk=session_id,
            user_id=user_id,
            user__is_active=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
        )
        .select_related("user")
        .only("expires_at", "user__role")
        .first()
    )
    if session is None:
        return
    lifetime = int(jwt_settings.ACCESS_TOKEN_LIFETIME.total_seconds())
    remaining = int((session.expires_at - now).total_seconds())
    ttl = max(1, min(lifetime, remaining))
    entry = (str(user_id), session.user.role, version, session.expires_at.timestamp())
    cache_set(session_key(str(session_id)), entry, ttl)


def login_remember_after_commit(*, user_id: uuid.UUID | str, session_id: uuid.UUID | str) -> None:
    transaction.on_commit(
        lambda: login_remember(user_id=user_id, session_id=session_id), robust=True
    )


def auth_changed(user_id: uuid.UUID | str) -> None:
    """After the commit of the current transaction (or now, outside one): every cached login
    of the user is stale."""
    transaction.on_commit(
        lambda: cache_version_bump(auth_version_key(user_id), timeout=AUTH_VERSION_TTL_SECONDS),
        robust=True,
    )


def cached_login_read(entry: Any, version: int, *, user_id: str, now: float) -> CachedLogin | None:
    """A stored entry as a live login of `user_id` under the counter's `version`, else None."""
    if not isinstance(entry, tuple) or len(entry) != 4:
        return None
    login = CachedLogin(*entry)
    if login.user_id != user_id or login.version != version or login.expires_at <= now:
        return None
    return login


def auth_fields_changed(
    sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any
) -> None:
    """post_save of User: a save that may change the role or activation makes logins stale."""
    if kwargs.get("created"):
        return
    if update_fields is None or AUTH_FIELDS.intersection(update_fields):
        auth_changed(instance.pk)


def user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """post_delete of User: its logins went with it."""
    auth_changed(instance.pk)
