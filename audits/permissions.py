"""Who may use the audit API: administrators, and service API keys for reporting events."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import ApiKey, is_admin


class IsAuditAdmin(BasePermission):
    """Reading, triaging and redacting records: administrators only (an admin's key too)."""

    message = "Only administrators may read or change audit records."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_admin(request.user)


class CanReportAuditEvents(BasePermission):
    """`POST /audits`: administrators, or any live API key (so, one whose owner is active).

    API key authentication already refuses revoked keys and deactivated owners; the key's
    owner becomes the actor of the event, so every reported event is attributable.
    """

    message = "Only administrators and service API keys may report audit events."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_admin(request.user) or isinstance(request.auth, ApiKey)
