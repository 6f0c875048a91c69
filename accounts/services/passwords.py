"""Password change and reset. Both end every earlier login of the user."""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from accounts.emails import password_reset_email_send_now
from accounts.models import User
from accounts.selectors import user_by_email
from accounts.services.events import auth_event_log
from accounts.services.notifications import account_email_queue
from accounts.services.sessions import login_session_start, login_sessions_revoke
from accounts.tokens import TokenPair, password_reset_token_user
from audits.services import audit_record_write
from config.core.errors import ValidationFailed
from config.core.task_queue import enqueue_on_commit

PASSWORD_RESET_EMAIL_TASK = "tasks.password_reset_email"  # noqa: S105 (a task name)  # nosec B105


def password_validate(password: str, *, user: User | None, field: str) -> None:
    """Django's validators (length, common passwords, similarity), as a 400 on `field`."""
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed({field: list(exc.messages)}) from exc


@transaction.atomic
def password_change(*, user: User, new_password: str) -> TokenPair:
    """Set a new password (the caller checked the old one) and start a fresh login."""
    password_validate(new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    login_sessions_revoke(user_id=user.pk, reason="password_change")
    account_email_queue(kind="password_changed", user=user)
    pair = login_session_start(user=user)
    # No changes: the record says that the password changed, never what it was or became.
    audit_record_write(
        action="user.password_changed", target_type="user", target_id=user.pk, actor=user
    )
    auth_event_log("auth.password_changed", user=str(user.pk))
    return pair


def password_reset_request(*, email: str) -> None:
    """Queue the reset email. The lookup happens in the worker, so known and unknown
    addresses cost the request the same time and leave the same trace."""
    auth_event_log("auth.password_reset_requested")
    with transaction.atomic():
        enqueue_on_commit(PASSWORD_RESET_EMAIL_TASK, email=email)


def password_reset_email_send(*, email: str) -> bool:
    """In the worker: mail a reset link to the active account with this email, if any."""
    user = user_by_email(email)
    if user is None or not user.is_active:
        return False
    password_reset_email_send_now(user)
    return True


@transaction.atomic
def password_reset_confirm(*, token: str, new_password: str) -> User:
    """Single use: the token hashes the old password in, so setting a new one ends it."""
    user = password_reset_token_user(token)
    if user is None:
        raise ValidationFailed({"token": ["This reset token is invalid, used or expired."]})
    password_validate(new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    login_sessions_revoke(user_id=user.pk, reason="password_reset")
    account_email_queue(kind="password_changed", user=user)
    # The holder of the emailed token acted as the user.
    audit_record_write(
        action="user.password_reset", target_type="user", target_id=user.pk, actor=user
    )
    auth_event_log("auth.password_reset", user=str(user.pk))
    return user
