"""The account emails. Sent from the worker; links come from SITE_URL, never a Host header."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import send_mail

from accounts.models import User
from accounts.tokens import email_verification_token_make, password_reset_token_make


def _link(path: str, token: str) -> str:
    return f"{settings.SITE_URL}{path}?{urlencode({'token': token})}"


def _greeting(user: User) -> str:
    return f"Hello {user.display_name or user.username},"


def verification_email_send_now(user: User) -> None:
    token = email_verification_token_make(user)
    hours = settings.EMAIL_VERIFICATION_MAX_AGE // 3600
    body = (
        f"{_greeting(user)}\n\n"
        "Welcome to Agora. Confirm your email address with this link:\n\n"
        f"{_link('/verify-email', token)}\n\n"
        f"or POST this token to /api/v1/auth/verify-email:\n\n{token}\n\n"
        f"It works once, for {hours} hours. If you did not sign up, ignore this email.\n"
    )
    send_mail("Confirm your Agora email address", body, None, [user.email])


def registration_notice_send_now(user: User) -> None:
    """Someone tried to register with an address that already has an account."""
    body = (
        f"{_greeting(user)}\n\n"
        "Someone tried to create an Agora account with this email address, which already "
        "has one. If it was you, log in instead, or reset your password at "
        f"{settings.SITE_URL}/password-reset.\n\n"
        "If it was not you, nothing changed and you can ignore this email.\n"
    )
    send_mail("Someone tried to register with your email", body, None, [user.email])


def password_changed_notice_send_now(user: User) -> None:
    """Tells the owner their password changed, so a takeover does not go unnoticed."""
    body = (
        f"{_greeting(user)}\n\n"
        "The password of your Agora account was just changed, and every device that was "
        "logged in has been logged out.\n\n"
        "If you did this, nothing more to do. If you did not, reset your password now at "
        f"{settings.SITE_URL}/password-reset and tell an administrator.\n"
    )
    send_mail("Your Agora password was changed", body, None, [user.email])


def password_reset_email_send_now(user: User) -> None:
    token = password_reset_token_make(user)
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    body = (
        f"{_greeting(user)}\n\n"
        "Reset your Agora password with this link:\n\n"
        f"{_link('/password-reset/confirm', token)}\n\n"
        f"or POST this token with your new password to /api/v1/auth/password-reset/confirm:"
        f"\n\n{token}\n\n"
        f"It works once, for {minutes} minutes. If you did not ask for it, ignore this email; "
        "your password stays as it is.\n"
    )
    send_mail("Reset your Agora password", body, None, [user.email])
