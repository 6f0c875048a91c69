"""DRF authentication: bearer access tokens bound to a live login, and API keys.

A refused credential is DRF's AuthenticationFailed (rendered as `token_invalid`), so DRF marks
the request unauthenticated before the error is rendered.
"""

from __future__ import annotations

import threading
from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow

from accounts.exceptions import TokenInvalid
from accounts.models import ApiKey, User
from accounts.selectors import user_for_access_token
from accounts.services import api_key_authenticate
from accounts.tokens import SESSION_CLAIM, VERIFIED_TOKENS_MAX

API_KEY_HEADER = "HTTP_X_API_KEY"


# Access tokens whose signature, audience and type this process has checked, by their text:
# a client sends the same token with every request for its lifetime, and only `exp` can change
# its verdict (measured: decoding was a tenth of a bearer `users/me`). Bounded; the oldest go.
_verified_tokens: dict[bytes, Token] = {}
_verified_tokens_lock = threading.Lock()


class AccessTokenAuthentication(JWTAuthentication):
    """simplejwt's checks (signature with the allowed algorithm, exp, aud, token type), plus
    a live login session and an active user, both read in the same single query."""

    def authenticate(self, request: Request) -> tuple[User, Token] | None:
        try:
            return super().authenticate(request)  # type: ignore[return-value]
        except InvalidToken as exc:
            raise AuthenticationFailed(TokenInvalid.default_message) from exc

    def get_validated_token(self, raw_token: bytes) -> Token:
        """simplejwt's checks once per token text; its expiry at every request."""
        token = _verified_tokens.get(raw_token)
        if token is not None:
            try:
                token.check_exp(current_time=aware_utcnow())
            except TokenError:
                _verified_tokens.pop(raw_token, None)
            else:
                return token
        token = super().get_validated_token(raw_token)
        with _verified_tokens_lock:
            if len(_verified_tokens) >= VERIFIED_TOKENS_MAX:
                _verified_tokens.pop(next(iter(_verified_tokens)), None)
            _verified_tokens[raw_token] = token
        return token

    def get_user(self, validated_token: Token) -> User:
        user = user_for_access_token(
            user_id=str(validated_token.get(jwt_settings.USER_ID_CLAIM, "")),
            session_id=str(validated_token.get(SESSION_CLAIM, "")),
        )
        if user is None:
            raise AuthenticationFailed(TokenInvalid.default_message)
        return user


class ApiKeyAuthentication(BaseAuthentication):
    """`X-API-Key: agora_<prefix>_<secret>`; the key acts as its owner, with the owner's role."""

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        raw = request.META.get(API_KEY_HEADER)
        if not raw:
            return None
        key = api_key_authenticate(raw)
        if key is None:
            raise AuthenticationFailed("The API key is invalid or revoked.")
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return 'ApiKey header="X-API-Key"'


def session_id_of(request: Request) -> str | None:
    """The login session behind the request's access token, if it came with one."""
    auth: Any = request.auth
    if isinstance(auth, Token):
        return str(auth.get(SESSION_CLAIM)) if auth.get(SESSION_CLAIM) else None
    return None
