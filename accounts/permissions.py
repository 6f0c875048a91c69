"""Permission classes for the roles table of API.md. The default everywhere is deny."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from accounts.exceptions import EmailNotVerified
from accounts.models import is_admin


class IsAdmin(BasePermission):
    """Admins only: user lists, role changes, audits, dead letters."""

    message = "Only administrators may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_admin(request.user)


class IsMember(BasePermission):
    """Writing content needs a verified account (role user or admin); a guest gets
    403 `email_not_verified`. Reads are left to the other permission classes."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_guest:
            raise EmailNotVerified()
        return user.is_member
