"""The account emails, queued after commit and sent by the worker."""

from __future__ import annotations

from accounts.emails import (
    password_changed_notice_send_now,
    registration_notice_send_now,
    verification_email_send_now,
)
from accounts.models import User
from config.core.task_queue import enqueue_on_commit

ACCOUNT_EMAIL_TASK = "tasks.account_email"
_SENDERS = {
    "verification": verification_email_send_now,
    "registration_notice": registration_notice_send_now,
    "password_changed": password_changed_notice_send_now,
}


def account_email_queue(*, kind: str, user: User) -> None:
    """Queue one of the account emails to `user` for when the transaction commits."""
    if kind not in _SENDERS:
        raise ValueError(f"Unknown account email {kind!r}")
    enqueue_on_commit(ACCOUNT_EMAIL_TASK, kind=kind, user_id=str(user.pk))


def account_email_send(*, kind: str, user_id: str) -> bool:
    """In the worker: send the email if its reason still holds; False when it is moot."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or (kind == "verification" and user.email_verified):
        return False
    _SENDERS[kind](user)
    return True
