"""Token formats: JWTs through simplejwt, emailed single-use tokens, and random secrets."""

from __future__ import annotations

import hashlib
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User

SESSION_CLAIM = "sid"
_VERIFY_EMAIL_SALT = "agora.accounts.verify-email"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    expires_at: datetime


@dataclass(frozen=True)
class RefreshClaims:
    user_id: str
    session_id: uuid.UUID
    jti: uuid.UUID


def token_pair_make(*, user: User, session_id: uuid.UUID, jti: uuid.UUID) -> TokenPair:
    """An access token and a refresh token, both bound to one login session."""
    access = AccessToken.for_user(user)
    access[SESSION_CLAIM] = str(session_id)
    refresh = RefreshToken.for_user(user)
    refresh[SESSION_CLAIM] = str(session_id)
    refresh[jwt_settings.JTI_CLAIM] = jti.hex
    lifetime = jwt_settings.ACCESS_TOKEN_LIFETIME
    return TokenPair(str(access), str(refresh), int(lifetime.total_seconds()))


def refresh_token_read(raw: str) -> RefreshClaims | None:
    """The claims of a genuine, unexpired refresh token, else None.

    simplejwt checks the signature against the one configured algorithm (an allow-list, so
    `alg: none` and algorithm swaps fail), `exp`, `aud` and that the type is "refresh".
    """
    try:
        token = RefreshToken(raw)
        return RefreshClaims(
            user_id=str(token[jwt_settings.USER_ID_CLAIM]),
            session_id=uuid.UUID(str(token[SESSION_CLAIM])),
            jti=uuid.UUID(str(token[jwt_settings.JTI_CLAIM])),
        )
    except (TokenError, KeyError, ValueError, TypeError):
        return None


def access_token_read(raw: str) -> AccessClaims | None:
    """The claims of a genuine, unexpired access token (same checks as `refresh_token_read`).

    The signature, audience and type are checked once per process and token text (the fast
    path in front of Django and WebSocket handshakes see the same token again and again); the
    expiry every time.
    """
    claims = _verified_access.get(raw)
    if claims is not None:
        if claims.expires_at > datetime.now(UTC):
            return claims
        _verified_access.pop(raw, None)
    try:
        token = AccessToken(raw)
        claims = AccessClaims(
            user_id=str(token[jwt_settings.USER_ID_CLAIM]),
            session_id=str(token[SESSION_CLAIM]),
            expires_at=datetime.fromtimestamp(int(token["exp"]), tz=UTC),
        )
    except (TokenError, KeyError, ValueError, TypeError):
        return None
    with _verified_access_lock:
        if len(_verified_access) >= VERIFIED_TOKENS_MAX:
            _verified_access.pop(next(iter(_verified_access)), None)
        _verified_access[raw] = claims
    return claims


# Access tokens already checked, by their text (see access_token_read); the oldest go first.
VERIFIED_TOKENS_MAX = 4096
_verified_access: dict[str, AccessClaims] = {}
_verified_access_lock = threading.Lock()


def secret_make(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def secret_hash(secret: str) -> str:
    """SHA-256 is enough for high-entropy random secrets (no stretching needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def email_verification_token_make(user: User) -> str:
    payload = {"u": str(user.pk), "e": user.email.casefold()}
    return signing.dumps(payload, salt=_VERIFY_EMAIL_SALT, compress=True)


def email_verification_token_read(token: str) -> dict[str, Any] | None:
    """The payload of an unexpired verification token, else None. Single use is the caller's."""
    try:
        payload = signing.loads(
            token, salt=_VERIFY_EMAIL_SALT, max_age=settings.EMAIL_VERIFICATION_MAX_AGE
        )
    except signing.BadSignature:
        return None
    return payload if isinstance(payload, dict) else None


_password_reset_tokens = PasswordResetTokenGenerator()


def password_reset_token_make(user: User) -> str:
    """Django's reset token (it hashes the password in, so a reset ends it) plus the user id."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return f"{uid}.{_password_reset_tokens.make_token(user)}"


def password_reset_token_user(token: str) -> User | None:
    uid, _, secret = token.partition(".")
    try:
        user_id = uuid.UUID(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not _password_reset_tokens.check_token(user, secret):
        return None
    return user
