"""WebSocket credentials: `?ticket=`, `?token=`, the subprotocol pair `bearer, <token>`, or the
browser's session cookie (in that order). A presented but bad credential never falls back
to the session: the connection is then anonymous and the consumer closes it with 4401."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from accounts.selectors import user_for_raw_access_token
from accounts.services import ws_ticket_redeem
from config.core.context import request_origin
from config.http.client_address import scope_origin

BEARER_SUBPROTOCOL = "bearer"


@dataclass(frozen=True)
class Credentials:
    """How a connection authenticated; `expires_at` closes it when its token runs out."""

    method: str
    session_id: str | None = None
    expires_at: datetime | None = None


def offered_bearer_subprotocol(scope: dict[str, Any]) -> str | None:
    """Browsers fail a handshake whose answer names none of the offered subprotocols, so a
    client that offered `bearer` gets it back even when its token turns out bad (then 4401)."""
    subprotocols = scope.get("subprotocols") or []
    return BEARER_SUBPROTOCOL if subprotocols[:1] == [BEARER_SUBPROTOCOL] else None


def _presented(scope: dict[str, Any]) -> tuple[str, str] | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if ticket := query.get("ticket", [""])[0]:
        return "ticket", ticket
    if token := query.get("token", [""])[0]:
        return "token", token
    subprotocols = scope.get("subprotocols") or []
    if offered_bearer_subprotocol(scope) and len(subprotocols) == 2:
        return "subprotocol", subprotocols[1]
    return None


def _from_ticket(ticket: str) -> tuple[Any, Credentials | None]:
    record = ws_ticket_redeem(ticket)
    if record is None:
        return AnonymousUser(), None
    return record.user, Credentials(method="ticket", session_id=record.credential_id)


def _from_access_token(raw: str, method: str) -> tuple[Any, Credentials | None]:
    found = user_for_raw_access_token(raw)
    if found is None:
        return AnonymousUser(), None
    user, claims = found
    return user, Credentials(method, claims.session_id, claims.expires_at)


@database_sync_to_async
def _authenticate(kind: str, value: str) -> tuple[Any, Credentials | None]:
    if kind == "ticket":
        return _from_ticket(value)
    return _from_access_token(value, kind)


class CredentialsMiddleware(BaseMiddleware):
    """Sits inside the session middleware and overrides its user when credentials came."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        # The connection's address and user agent, for whatever its messages write.
        with request_origin(scope_origin(scope)):
            presented = _presented(scope)
            if presented is None:
                scope = dict(scope, credentials=Credentials(method="session"))
            else:
                user, credentials = await _authenticate(*presented)
                scope = dict(scope, user=user, credentials=credentials)
            return await super().__call__(scope, receive, send)
