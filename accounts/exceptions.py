"""Domain errors of accounts; config.errors renders each with its contract code."""

from __future__ import annotations

import math

from rest_framework import exceptions, status


class TokenInvalid(exceptions.AuthenticationFailed):
    default_detail = "The token is invalid, expired or revoked."
    default_code = "token_invalid"


class InvalidCredentials(exceptions.AuthenticationFailed):
    default_detail = "Invalid username or password."
    default_code = "invalid_credentials"


class AccountLocked(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many failed logins; try again later."
    default_code = "account_locked"

    def __init__(self, wait_seconds: float) -> None:
        super().__init__()
        self.wait = max(1, math.ceil(wait_seconds))


class EmailNotVerified(exceptions.PermissionDenied):
    default_detail = "Verify your email address first."
    default_code = "email_not_verified"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This clashes with existing data."
    default_code = "conflict"
