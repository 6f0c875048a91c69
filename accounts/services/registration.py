"""Sign-up and email verification, without telling anyone which emails have accounts."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from accounts.emails import registration_notice_send_now, verification_email_send_now
from accounts.exceptions import Conflict
from accounts.models import Role, User
from accounts.selectors import user_by_email, user_by_username
from accounts.services.events import auth_event_log
from accounts.services.passwords import password_validate
from accounts.tokens import email_verification_token_read
from config.queue import enqueue_on_commit

ACCOUNT_EMAIL_TASK = "tasks.account_email"


class UsernameTaken(Conflict):
    default_detail = "This username is taken."


def user_register(
    *, email: str, username: str, password: str, display_name: str = "", ip: str | None = None
) -> None:
    """Create a guest and mail a verification link; a known email gets a notice instead.

    Both outcomes hash the password and queue one email, so they answer alike and in about
    the same time. Usernames are public, so a taken one is a 409 before anything else.
    """
    if user_by_username(username) is not None:
        raise UsernameTaken()
    candidate = User(username=username, email=email, display_name=display_name)
    password_validate(password, user=candidate, field="password")
    candidate.password = make_password(password)
    owner = user_by_email(email)
    if owner is None:
        try:
            with transaction.atomic():
                candidate.save(force_insert=True)
                enqueue_on_commit(
                    ACCOUNT_EMAIL_TASK, kind="verification", user_id=str(candidate.pk)
                )
        except IntegrityError:
            # A parallel sign-up took the username or the email between our checks and here.
            if user_by_username(username) is not None:
                raise UsernameTaken() from None
            owner = user_by_email(email)
            if owner is None:
                raise
        else:
            auth_event_log("auth.registered", user=str(candidate.pk), ip=ip)
            return
    with transaction.atomic():
        enqueue_on_commit(ACCOUNT_EMAIL_TASK, kind="registration_notice", user_id=str(owner.pk))
    auth_event_log("auth.register_known_email", user=str(owner.pk), ip=ip)


def account_email_send(*, kind: str, user_id: str) -> bool:
    """In the worker: send one of the account emails to the user, if they still exist."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return False
    if kind == "verification":
        if user.email_verified:
            return False
        verification_email_send_now(user)
    elif kind == "registration_notice":
        registration_notice_send_now(user)
    else:
        raise ValueError(f"Unknown account email {kind!r}")
    return True


@transaction.atomic
def email_verify(*, token: str, ip: str | None = None) -> User:
    """Mark the email verified and promote a guest to user; each token works once."""
    payload = email_verification_token_read(token)
    user = None
    if payload is not None:
        user = User.objects.select_for_update().filter(pk=payload.get("u")).first()
    if (
        user is None or user.email_verified or user.email.casefold() != payload.get("e")  # type: ignore[union-attr]
    ):
        raise ValidationError({"token": ["This verification token is invalid, used or expired."]})
    user.email_verified = True
    fields = ["email_verified"]
    if user.role == Role.GUEST:
        user.role = Role.USER
        fields.append("role")
    user.save(update_fields=fields)
    auth_event_log("auth.email_verified", user=str(user.pk), ip=ip)
    return user
