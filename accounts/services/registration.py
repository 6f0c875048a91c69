"""Sign-up and email verification, without telling anyone which emails have accounts."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction

from accounts.exceptions import UsernameTaken
from accounts.models import Role, User
from accounts.selectors import user_by_email, user_by_username
from accounts.services.events import auth_event_log
from accounts.services.notifications import account_email_queue
from accounts.services.passwords import password_validate
from accounts.services.users import user_audit_snapshot
from accounts.tokens import email_verification_token_read
from audits.services import audit_changes, audit_record_write
from config.core.errors import ValidationFailed


def user_register(*, email: str, username: str, password: str, display_name: str = "") -> None:
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
                account_email_queue(kind="verification", user=candidate)
                audit_record_write(
                    action="user.registered",
                    target_type="user",
                    target_id=candidate.pk,
                    actor=candidate,
                    changes=audit_changes({}, user_audit_snapshot(candidate)),
                )
        except IntegrityError:
            # A parallel sign-up took the username or the email between our checks and here.
            if user_by_username(username) is not None:
                raise UsernameTaken() from None
            owner = user_by_email(email)
            if owner is None:
                raise
        else:
            auth_event_log("auth.registered", user=str(candidate.pk))
            return
    with transaction.atomic():
        account_email_queue(kind="registration_notice", user=owner)
        # Also keeps this path as slow as the other one, which writes its own record.
        audit_record_write(
            action="user.duplicate_registration",
            target_type="user",
            target_id=owner.pk,
            changes={"username": [None, username]},
        )
    auth_event_log("auth.register_known_email", user=str(owner.pk))


@transaction.atomic
def email_verify(*, token: str) -> User:
    """Mark the email verified and promote a guest to user; each token works once."""
    payload = email_verification_token_read(token)
    user = None
    if payload is not None:
        user = User.objects.select_for_update().filter(pk=payload.get("u")).first()
    if (
        user is None or user.email_verified or user.email.casefold() != payload.get("e")  # type: ignore[union-attr]
    ):
        raise ValidationFailed({"token": ["This verification token is invalid, used or expired."]})
    before = user_audit_snapshot(user)
    user.email_verified = True
    fields = ["email_verified"]
    if user.role == Role.GUEST:
        user.role = Role.USER
        fields.append("role")
    user.save(update_fields=fields)
    audit_record_write(
        action="user.email_verified",
        target_type="user",
        target_id=user.pk,
        actor=user,
        changes=audit_changes(before, user_audit_snapshot(user)),
    )
    auth_event_log("auth.email_verified", user=str(user.pk))
    return user
