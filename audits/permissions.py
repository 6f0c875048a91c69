"""Who may use the audit API: administrators only, including through their own API keys.

A key acts as its owner with the owner's role, so "a service API key may report events" means
an admin's key; a plain user's key is refused like that user's bearer token.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import is_admin


class IsAuditAdmin(BasePermission):
    """Reading, triaging and redacting records: administrators only (an admin's key too)."""

    message = "Only administrators may read or change audit records."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_admin(request.user)


class CanReportAuditEvents(BasePermission):
    """`POST /audits`: administrators, by bearer token, session or their own API key.

    The role decides, never the kind of credential: any user can mint a key, so "is an API
    key" would let every account write into the tamper-evident trail. API key authentication
    already refuses revoked keys and deactivated owners; the key's owner becomes the actor of
    the event, so every reported event is attributable.
    """

    message = "Only administrators and their API keys may report audit events."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_admin(request.user)
