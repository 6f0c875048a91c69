"""Domain errors of accounts: plain Python with a contract code (config.core.errors).

config.http.envelope gives each code its HTTP status; the admin and commands show the message.
"""

from __future__ import annotations

from config.core.errors import Conflict, DomainError, PermissionDenied, TooManyRequests


class TokenInvalid(DomainError):
    code = "token_invalid"
    default_message = "The token is invalid, expired or revoked."


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    default_message = "Invalid username or password."


class AccountLocked(TooManyRequests):
    code = "account_locked"
    default_message = "Too many failed logins; try again later."


class LoginRateLimited(TooManyRequests):
    """Logins refused for a while without locking any account (too many failures from one
    address, or too many logins of one account at once)."""

    default_message = "Too many failed logins from this address; try again later."


class EmailNotVerified(PermissionDenied):
    code = "email_not_verified"
    default_message = "Verify your email address first."


class UsernameTaken(Conflict):
    default_message = "This username is taken."
