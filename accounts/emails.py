"""The account emails: verification, password reset, and the notices (a sign-up with a known
address, a changed password). Sent from the worker (tasks.tasks); each is a text and an HTML
part from `accounts/templates/accounts/emails/` in the look of `emails/base.*`. Links come from
SITE_URL, never from a Host header."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from accounts.models import User
from accounts.tokens import email_verification_token_make, password_reset_token_make
from config.core.mail import mail_send, site_link

TEMPLATES = "accounts/emails"


def _send(user: User, name: str, subject: str, **context: Any) -> None:
    mail_send(
        template=f"{TEMPLATES}/{name}",
        subject=subject,
        to=[user.email],
        context={"name": user.display_name or user.username, **context},
    )


def verification_email_send_now(user: User) -> None:
    token = email_verification_token_make(user)
    _send(
        user,
        "verification",
        "Confirm your Agora email address",
        link=site_link("/verify-email", token=token),
        token=token,
        hours=settings.EMAIL_VERIFICATION_MAX_AGE // 3600,
    )


def registration_notice_send_now(user: User) -> None:
    """Someone tried to register with an address that already has an account."""
    _send(
        user,
        "registration_notice",
        "Someone tried to register with your email",
        reset_link=site_link("/password-reset"),
    )


def password_changed_notice_send_now(user: User) -> None:
    """Tells the owner their password changed, so a takeover does not go unnoticed."""
    _send(
        user,
        "password_changed",
        "Your Agora password was changed",
        reset_link=site_link("/password-reset"),
    )


def password_reset_email_send_now(user: User) -> None:
    token = password_reset_token_make(user)
    _send(
        user,
        "password_reset",
        "Reset your Agora password",
        link=site_link("/password-reset/confirm", token=token),
        token=token,
        minutes=settings.PASSWORD_RESET_TIMEOUT // 60,
    )
