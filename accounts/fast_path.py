"""Bearer tokens for the fast path in front of Django (config.http.public_cache.BearerLogins).

The token is checked as Django's authentication checks it (accounts.tokens.access_token_read:
signature with the allowed algorithm, `exp`, `aud`, token type); its login and user are read
from the cached login of accounts.session_cache instead of the database, and only while that
entry is current.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from accounts.session_cache import auth_version_key, cached_login_read, session_key
from accounts.tokens import access_token_read
from config.http.public_cache import Caller


class CachedBearerLogins:
    def claims(self, token: str) -> tuple[str, str] | None:
        claims = access_token_read(token)
        if claims is None:
            return None
        try:
            return str(uuid.UUID(claims.user_id)), str(uuid.UUID(claims.session_id))
        except ValueError:
            return None

    def keys(self, user_id: str, session_id: str) -> list[str]:
        return [session_key(session_id), auth_version_key(user_id)]

    def caller(self, user_id: str, values: Sequence[Any]) -> Caller | None:
        entry, version = values
        login = cached_login_read(
            entry, version if isinstance(version, int) else 1, user_id=user_id, now=time.time()
        )
        return Caller(user_id=login.user_id, role=login.role) if login is not None else None
