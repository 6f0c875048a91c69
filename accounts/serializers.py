"""Input and output shapes of the accounts API. Fields are explicit; role and flags are never
read from a body except by the admin's own serializer."""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import ApiKey, LoginSession, Role, User
from accounts.representations import public_user_representation, user_representation
from accounts.validators import PrintableTextValidator, UsernameValidator, password_length_limits

_printable = PrintableTextValidator()
_PASSWORD_MIN_LENGTH, _PASSWORD_MAX_LENGTH = password_length_limits()


@extend_schema_field(
    {
        "type": "string",
        "format": "password",
        "minLength": _PASSWORD_MIN_LENGTH,
        **({"maxLength": _PASSWORD_MAX_LENGTH} if _PASSWORD_MAX_LENGTH else {}),
    }
)
class NewPasswordField(serializers.CharField):
    """A password being chosen. The service checks it against AUTH_PASSWORD_VALIDATORS, whose
    length limits the OpenAPI document states; the rest (too common, too like the user's names)
    no schema can say, so it is in the description."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 4096)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault(
            "help_text",
            f"{_PASSWORD_MIN_LENGTH} to {_PASSWORD_MAX_LENGTH} characters, any Unicode; "
            "refused when it is a common password or too like the username or email.",
        )
        super().__init__(**kwargs)


class RegisterInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    username = serializers.CharField(
        max_length=150,
        validators=[UsernameValidator()],
        help_text="Public. Letters and digits of any script and . @ + - _ ' (no spaces).",
    )
    password = NewPasswordField(write_only=True)
    display_name = serializers.CharField(
        max_length=150, required=False, allow_blank=True, default="", validators=[_printable]
    )


class StatusOutputSerializer(serializers.Serializer):
    status = serializers.CharField()


class TokenInputSerializer(serializers.Serializer):
    """OAuth2 password grant (RFC 6749 §4.3), as a form or as JSON."""

    grant_type = serializers.ChoiceField(choices=["password"])
    username = serializers.CharField(max_length=320, help_text="Username or email.")
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    cookie = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Browser mode: the refresh token goes into an HttpOnly cookie, not the body.",
    )
    scope = serializers.CharField(required=False, allow_blank=True, help_text="Ignored.")


class TokenOutputSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField(
        required=False, help_text="Absent in browser (cookie) mode."
    )
    token_type = serializers.CharField(default="bearer")
    expires_in = serializers.IntegerField(help_text="Seconds the access token is valid.")
    csrf_token = serializers.CharField(
        required=False, help_text="Browser mode only: send it back as `X-CSRFToken`."
    )


class RefreshInputSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(
        max_length=4096,
        required=False,
        help_text="Omit in browser mode: the cookie is used, with the CSRF header.",
    )


class TokenOnlyInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=4096)


class PasswordResetInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=4096)
    new_password = NewPasswordField()


class PasswordChangeInputSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=4096, trim_whitespace=False)
    new_password = NewPasswordField()


class PublicUserOutputSerializer(serializers.ModelSerializer):
    """Describes `public_user_representation` for the schema, and renders with it."""

    # Closed, so that `GET users/{id}`'s oneOf tells it from the full UserOutput.
    openapi_schema_extra: ClassVar[dict[str, Any]] = {"additionalProperties": False}

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "bio", "date_joined"]
        read_only_fields = fields

    def to_representation(self, instance: User) -> dict[str, Any]:
        return public_user_representation(instance)


class UserOutputSerializer(serializers.ModelSerializer):
    """What the user themself and admins see: describes `user_representation` for the schema,
    and renders with it (DRF would build its ten fields anew for every answer)."""

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "display_name",
            "bio",
            "date_joined",
            "email",
            "email_verified",
            "role",
            "is_active",
            "last_login",
        ]
        read_only_fields = fields

    def to_representation(self, instance: User) -> dict[str, Any]:
        return user_representation(instance)


class ProfileUpdateInputSerializer(serializers.Serializer):
    """Unknown fields (`role`, `is_staff`, `email_verified` …) are ignored, never applied."""

    display_name = serializers.CharField(
        max_length=150, required=False, allow_blank=True, validators=[_printable]
    )
    bio = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, validators=[_printable]
    )


class AdminUserUpdateInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)


class ApiKeyInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, validators=[_printable])


class ApiKeyOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiKeyCreatedOutputSerializer(ApiKeyOutputSerializer):
    key = serializers.CharField(
        allow_null=True,
        help_text=(
            "The secret. Shown this once; store it now. Null in the answer replayed for a "
            "repeated `Idempotency-Key`: the secret is never stored, so it cannot be shown "
            "again (revoke that key and make another if it was lost)."
        ),
    )

    class Meta(ApiKeyOutputSerializer.Meta):
        fields = [*ApiKeyOutputSerializer.Meta.fields, "key"]
        read_only_fields = fields


class LoginSessionOutputSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="The login making this request.")

    class Meta:
        model = LoginSession
        fields = ["id", "created_at", "refreshed_at", "expires_at", "ip", "user_agent", "current"]
        read_only_fields = fields

    def get_current(self, session: LoginSession) -> bool:
        return str(session.pk) == self.context.get("current_session_id")


class WsTicketOutputSerializer(serializers.Serializer):
    ticket = serializers.CharField()
    expires_in = serializers.IntegerField()
