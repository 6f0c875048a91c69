"""One-time tickets for WebSocket handshakes, so no long-lived secret goes into a URL."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import User, WebSocketTicket
from accounts.tokens import secret_hash, secret_make


def ws_ticket_issue(
    *, user: User, session_id: uuid.UUID | str | None, api_key_id: uuid.UUID | str | None = None
) -> str:
    """A ticket valid once within WS_TICKET_MAX_AGE seconds; bound to the caller's login (or
    API key), so the connection it opens ends with it."""
    now = timezone.now()
    ticket = secret_make(32)
    WebSocketTicket.objects.create(
        ticket_hash=secret_hash(ticket),
        user=user,
        session_id=session_id,
        api_key_id=api_key_id,
        expires_at=now + timedelta(seconds=settings.WS_TICKET_MAX_AGE),
    )
    return ticket


def ws_ticket_redeem(ticket: str) -> WebSocketTicket | None:
    """The ticket's record if it is live; it is deleted either way, so it works only once.

    The DELETE decides: of two handshakes racing with one ticket, one deletes the row.
    """
    found = WebSocketTicket.objects.select_related("user", "session", "api_key").filter(
        ticket_hash=secret_hash(ticket)
    )
    record = found.first()
    if record is None or found.delete()[0] != 1:
        return None
    if record.expires_at <= timezone.now() or not record.user.is_active:
        return None
    if record.session is not None and record.session.revoked_at is not None:
        return None
    if record.api_key is not None and record.api_key.revoked_at is not None:
        return None
    return record
