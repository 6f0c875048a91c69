"""Input and output shapes of the notifications API.

Output is built by realtime.representations; the output serializer renders through it so the
OpenAPI document still describes every field.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from realtime.models import NOTIFICATION_EXCERPT_MAX_LENGTH, Notification, NotificationKind
from realtime.representations import notification_representation
from realtime.services import MARK_READ_MAX_IDS

_UUID = {"type": "string", "format": "uuid"}
NOTIFICATION_DATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "What a client needs to render and link the notification. `comment_on_post` and "
        "`reply_to_comment`: `post`, `comment` and `actor` (who wrote it). `job_finished`: "
        "`job`, the finished job."
    ),
    "properties": {
        "post": {
            "type": "object",
            "properties": {"id": _UUID, "title": {"type": "string"}},
            "required": ["id", "title"],
        },
        "comment": {
            "type": "object",
            "properties": {
                "id": _UUID,
                "parent": {**_UUID, "nullable": True, "description": "The comment replied to."},
                "excerpt": {
                    "type": "string",
                    "maxLength": NOTIFICATION_EXCERPT_MAX_LENGTH,
                    "description": "The start of the comment's body, whitespace collapsed.",
                },
            },
            "required": ["id", "parent", "excerpt"],
        },
        "actor": {
            "type": "object",
            "properties": {"id": _UUID, "username": {"type": "string"}},
            "required": ["id", "username"],
        },
        "job": {"type": "object", "additionalProperties": True},
    },
    "additionalProperties": True,
}


@extend_schema_field(NOTIFICATION_DATA_SCHEMA)
class NotificationDataField(serializers.JSONField):
    pass


class NotificationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=NotificationKind.choices)
    data = NotificationDataField()
    read = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def to_representation(self, instance: Notification) -> dict[str, Any]:
        return notification_representation(instance)


class StrictBooleanQueryField(serializers.BooleanField):
    """`true` or `false` (also `True`/`False`, `1`/`0`); DRF's own takes `yes`, `on` and more.
    Empty counts as absent, as for the other list filters."""

    TRUE_VALUES: ClassVar[set[Any]] = {"true", "True", "1"}
    FALSE_VALUES: ClassVar[set[Any]] = {"false", "False", "0"}
    NULL_VALUES: ClassVar[set[Any]] = {""}
    default_error_messages = {"invalid": "Must be `true` or `false`."}


class NotificationListQuerySerializer(serializers.Serializer):
    # Documented by the view as a plain boolean query parameter.
    unread = StrictBooleanQueryField(required=False, allow_null=True, default=None)


class UuidTextField(serializers.UUIDField):
    """A UUID as JSON text; DRF's own also reads a number as the UUID's integer."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class NotificationReadInputSerializer(serializers.Serializer):
    """Exactly one of `ids` and `"all": true`."""

    # The fields' shapes are checked here, the one-of-the-two rule by the service.
    openapi_schema_extra: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {"required": ["ids"], "not": {"required": ["all"]}},
            {
                "required": ["all"],
                "not": {"required": ["ids"]},
                "properties": {"all": {"type": "boolean", "enum": [True]}},
            },
        ]
    }

    ids = serializers.ListField(
        child=UuidTextField(),
        max_length=MARK_READ_MAX_IDS,
        required=False,
        help_text=(
            f"Up to {MARK_READ_MAX_IDS} notification ids. Ids of others' notifications, unknown "
            "ones and those already read change nothing."
        ),
    )
    all = serializers.BooleanField(required=False, help_text="`true`: every unread one.")

    def validate_all(self, value: bool) -> bool:
        if value is not True:
            raise serializers.ValidationError("Must be true, or left out.")
        return value


class NotificationReadOutputSerializer(serializers.Serializer):
    updated = serializers.IntegerField(min_value=0, help_text="How many went from unread to read.")
