"""The user model, custom from the first migration so later auth work needs no table swap."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Lower
from uuid_utils.compat import uuid7

from accounts.validators import PrintableTextValidator, UsernameValidator
from config.core.context import USER_AGENT_MAX_LENGTH


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    USER = "user", "User"
    GUEST = "guest", "Guest"


class UserManager(DjangoUserManager["User"]):
    def create_superuser(
        self,
        username: str,
        email: str | None = None,
        password: str | None = None,
        **extra: Any,
    ) -> User:
        extra["role"] = Role.ADMIN
        return super().create_superuser(username, email, password, **extra)


class User(AbstractUser):
    username_validator = UsernameValidator()

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    username = models.CharField(
        "username",
        max_length=150,
        unique=True,
        validators=[username_validator],
        help_text="Public name: letters of any script, digits and . @ + - _ '",
        error_messages={"unique": "This username is taken."},
    )
    email = models.EmailField("email address")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.GUEST)
    email_verified = models.BooleanField(default=False)
    display_name = models.CharField(
        max_length=150, blank=True, validators=[PrintableTextValidator()]
    )
    bio = models.TextField(max_length=2000, blank=True, validators=[PrintableTextValidator()])

    REQUIRED_FIELDS = ["email"]

    objects = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                name="accounts_user_username_ci_unique",
                violation_error_message="This username is taken.",
            ),
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_ci_unique",
                violation_error_message="A user with this email address already exists.",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values),
                name="accounts_user_role_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(is_superuser=False) | models.Q(role=Role.ADMIN),
                name="accounts_user_superuser_is_admin",
            ),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_guest(self) -> bool:
        """Signed up, email not verified yet: may read, may not write content."""
        return self.role == Role.GUEST

    @property
    def is_member(self) -> bool:
        """A verified account (user or admin): may write content."""
        return self.role in (Role.USER, Role.ADMIN)


def is_admin(actor: object) -> bool:
    """Whether `actor` (a User, an AnonymousUser or None) is an administrator.

    The one test of the role for every caller: permissions, selectors, services, consumers.
    """
    return isinstance(actor, User) and actor.is_admin


class LoginSession(models.Model):
    """One login: the family of refresh tokens rotated from it.

    Only the newest refresh token (`current_jti`) is valid. A refresh swaps it with one
    conditional UPDATE, so of two concurrent refreshes exactly one wins; presenting an older
    token is theft and revokes the session. Access tokens carry the session id and die with it.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_sessions")
    current_jti = models.UUIDField()
    created_at = models.DateTimeField(auto_now_add=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(help_text="Absolute end, however often it is refreshed.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=32, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=USER_AGENT_MAX_LENGTH, blank=True)
    cookie_mode = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"], name="accounts_session_user_live")]

    def __str__(self) -> str:
        return f"session {self.pk} of {self.user_id}"


class LoginFailureCounter(models.Model):
    """Failed logins of one account or one client address within the current window.

    An account's counter also holds its attempts in flight (admitted, their password still
    being checked), so parallel attempts cannot get more guesses checked than the limit; see
    accounts.services.lockout. An address's counter counts failures only.
    """

    class Scope(models.TextChoices):
        ACCOUNT = "account", "Account"
        IP = "ip", "IP address"

    scope = models.CharField(max_length=8, choices=Scope.choices)
    key = models.CharField(max_length=320, help_text="User id, submitted name, or IP address.")
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    locked_until = models.DateTimeField(
        "refused until",
        null=True,
        blank=True,
        help_text="Every attempt is refused until then: the account is locked, or the address "
        "rate-limited.",
    )
    in_flight = models.JSONField(
        default=dict,
        blank=True,
        help_text="Attempts being checked now: attempt id -> when it stops counting (epoch s).",
    )
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="accounts_failure_scope_key"),
            models.CheckConstraint(
                condition=models.Q(scope__in=["account", "ip"]),
                name="accounts_failure_scope_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}: {self.failures}"

    def in_flight_live(self, now: datetime) -> dict[str, float]:
        """The attempts in flight that still count at `now` (a dead process's stop by
        themselves)."""
        now_s = now.timestamp()
        return {attempt: until for attempt, until in self.in_flight.items() if until > now_s}


class ApiKey(models.Model):
    """A service client's key. Only a SHA-256 of the secret is kept; `prefix` finds the row."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="accounts_apikey_user")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"


class WebSocketTicket(models.Model):
    """A single-use, short-lived credential for one WebSocket handshake (hash stored)."""

    ticket_hash = models.CharField(max_length=64, primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(
        LoginSession, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Asked for with an API key: its connection ends when the key is revoked.
    api_key = models.ForeignKey(
        "ApiKey", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"ticket of {self.user_id}"

    @property
    def credential_id(self) -> str | None:
        """What revocation names: the login session, or `key:<id>` for an API key."""
        if self.session_id is not None:
            return str(self.session_id)
        return api_key_credential_id(self.api_key_id) if self.api_key_id else None


def api_key_credential_id(key_id: Any) -> str:
    return f"key:{key_id}"
