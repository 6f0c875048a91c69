"""Logins and their refresh-token families: start, rotate, end; theft detection on reuse."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from uuid_utils.compat import uuid7

from accounts.exceptions import InvalidCredentials, TokenInvalid
from accounts.models import LoginSession, User, WebSocketTicket
from accounts.selectors import user_for_login
from accounts.services.events import auth_event_log
from accounts.services.lockout import (
    login_attempt_abandoned,
    login_attempt_begin,
    login_attempt_failed,
    login_attempt_succeeded,
    login_keys,
    login_target_id,
)
from accounts.session_cache import auth_changed, login_remember_after_commit
from accounts.tokens import TokenPair, refresh_token_read, token_pair_make
from audits.services import audit_record_write
from config.core.context import current_request_origin
from realtime.broadcast import connections_close


def login(
    *,
    identifier: str,
    password: str,
    cookie_mode: bool = False,
) -> tuple[User, TokenPair]:
    """The password grant: a new login session, or 401/429 in the same shape for everyone."""
    user = user_for_login(identifier)
    keys = login_keys(identifier=identifier, user=user)
    attempt = login_attempt_begin(keys)
    try:
        if user is None:
            # Hash anyway, so an unknown name costs the same time as a wrong password.
            make_password(password)
            valid = False
        else:
            valid = user.check_password(password) and user.is_active
        # Each outcome is counted in its own transaction with its audit record, committed
        # before the answer (a 401 would not undo it anyway).
        with transaction.atomic():
            if valid:
                login_attempt_succeeded(attempt)
                pair = login_session_start(user=user, cookie_mode=cookie_mode)
                audit_record_write(
                    action="user.login_succeeded", target_type="user", target_id=user.pk, actor=user
                )
            else:
                login_attempt_failed(attempt)
                audit_record_write(
                    action="user.login_failed",
                    target_type="user",
                    target_id=login_target_id(identifier=identifier, user=user),
                )
    except BaseException:
        login_attempt_abandoned(attempt)
        raise
    if not valid:
        auth_event_log(
            "auth.login_failed", user=str(user.pk) if user else None, known=user is not None
        )
        raise InvalidCredentials()
    auth_event_log("auth.login_succeeded", user=str(user.pk), cookie=cookie_mode)
    return user, pair


def login_session_start(*, user: User, cookie_mode: bool = False) -> TokenPair:
    """A new login of `user` from where the current request comes from."""
    jti = uuid7()
    origin = current_request_origin()
    session = LoginSession.objects.create(
        user=user,
        current_jti=jti,
        expires_at=timezone.now() + timedelta(seconds=settings.AUTH_SESSION_MAX_AGE),
        ip=origin.ip,
        user_agent=origin.user_agent,
        cookie_mode=cookie_mode,
    )
    login_remember_after_commit(user_id=user.pk, session_id=session.pk)
    return token_pair_make(user=user, session_id=session.pk, jti=jti)


def login_session_refresh(*, refresh_token: str) -> tuple[User, TokenPair]:
    """Rotate: the presented token dies, a new pair is born; an old token revokes the login.

    The swap is one conditional UPDATE on the session row alone (no join), so when two
    requests race with the same token the database lets exactly one of them change the row.
    """
    claims = refresh_token_read(refresh_token)
    if claims is None:
        raise TokenInvalid()
    now = timezone.now()
    new_jti = uuid7()
    swapped = LoginSession.objects.filter(
        pk=claims.session_id,
        user_id=claims.user_id,
        current_jti=claims.jti,
        revoked_at__isnull=True,
        expires_at__gt=now,
    ).update(current_jti=new_jti, refreshed_at=now)
    if swapped != 1:
        _refresh_refused(claims.session_id, claims.jti)
    user = User.objects.filter(pk=claims.user_id, is_active=True).first()
    if user is None:
        login_sessions_revoke(user_id=claims.user_id, reason="deactivated")
        raise TokenInvalid()
    login_remember_after_commit(user_id=user.pk, session_id=claims.session_id)
    return user, token_pair_make(user=user, session_id=claims.session_id, jti=new_jti)


def login_session_logout(*, refresh_token: str) -> None:
    """End the login this refresh token belongs to (its access tokens stop working too)."""
    claims = refresh_token_read(refresh_token)
    if claims is None:
        raise TokenInvalid()
    ended = LoginSession.objects.filter(
        pk=claims.session_id, current_jti=claims.jti, revoked_at__isnull=True
    ).update(revoked_at=timezone.now(), revoke_reason="logout")
    if ended != 1:
        _refresh_refused(claims.session_id, claims.jti)
    auth_changed(claims.user_id)
    auth_event_log("auth.logout", user=claims.user_id, session=str(claims.session_id))
    transaction.on_commit(
        lambda: connections_close(user_id=claims.user_id, session_id=str(claims.session_id))
    )


def login_session_revoke(*, session: LoginSession, reason: str = "revoked") -> None:
    """End one login (the user's "log out that device"): its tokens and connections die."""
    LoginSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoke_reason=reason
    )
    auth_changed(session.user_id)
    auth_event_log("auth.logout", user=str(session.user_id), session=str(session.pk))
    transaction.on_commit(
        lambda: connections_close(user_id=str(session.user_id), session_id=str(session.pk))
    )


def login_sessions_revoke(*, user_id: uuid.UUID | str, reason: str) -> int:
    """End every login of a user (logout-all, password change or reset, deactivation).

    Their refresh and access tokens stop working at once and their WebSocket connections
    are closed with 4401 once this commits.
    """
    revoked = LoginSession.objects.filter(user_id=user_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoke_reason=reason
    )
    auth_changed(user_id)
    auth_event_log("auth.sessions_revoked", user=str(user_id), reason=reason, count=revoked)
    transaction.on_commit(lambda: connections_close(user_id=str(user_id), session_id=None))
    return revoked


def login_sessions_purge(*, older_than: timedelta = timedelta(days=7)) -> int:
    """Delete logins that ended or expired before `older_than` ago; a reused token of one
    is then simply unknown (still a 401), and the table stays small."""
    cutoff = timezone.now() - older_than
    deleted, _ = LoginSession.objects.filter(
        Q(revoked_at__lt=cutoff) | Q(expires_at__lt=cutoff)
    ).delete()
    WebSocketTicket.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted


def _refresh_refused(session_id: uuid.UUID, jti: uuid.UUID) -> None:
    """Raise 401; if the token was genuine but no longer current, that is reuse: revoke."""
    session = LoginSession.objects.select_related("user").filter(pk=session_id).first()
    reused = session is not None and (session.current_jti != jti or session.revoked_at is not None)
    if reused:
        # Committed before the 401, which would not undo it anyway: no request transaction.
        with transaction.atomic():
            was_live = LoginSession.objects.filter(pk=session_id, revoked_at__isnull=True).update(
                revoked_at=timezone.now(), revoke_reason="token_reuse"
            )
            # The actor is the owner of the replayed token: whoever sent it acted as them.
            audit_record_write(
                action="token.reuse_detected",
                target_type="token",
                target_id=session_id,
                actor=session.user,
                changes={"revoked": [False, True]} if was_live else {},
            )
            auth_changed(session.user_id)
        auth_event_log("auth.token_reuse", user=str(session.user_id), session=str(session_id))
        transaction.on_commit(
            lambda: connections_close(user_id=str(session.user_id), session_id=str(session_id))
        )
    raise TokenInvalid()
