"""Input and output shapes of the audit API. Fields are explicit; nothing is written here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audits.models import (
    ACTION_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    TARGET_ID_MAX_LENGTH,
    TARGET_TYPE_MAX_LENGTH,
    AuditRecord,
    AuditStatus,
)

NAME_PATTERN = r"^[A-Za-z0-9_-]+$"
ACTION_PATTERN = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$"
CHANGE_FIELDS_MAX = 200
CHANGES_DEPTH_MAX = 16
CHANGE_KEY_MAX_LENGTH = 100


class _TextCheck:
    """No NUL or other control characters but line breaks and tabs, no lone surrogates
    (PostgreSQL refuses both, which would otherwise be a 500)."""

    # For the OpenAPI document (config.api.openapi); lone surrogates cannot come in UTF-8.
    openapi_pattern = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f]*$"

    def __call__(self, value: str) -> None:
        if any(ch < " " and ch not in "\n\r\t" for ch in value):
            raise serializers.ValidationError("Control characters are not allowed.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise serializers.ValidationError("Not valid Unicode text.") from None


_text_check = _TextCheck()


def _json_check(value: Any, depth: int = 0) -> None:
    if depth > CHANGES_DEPTH_MAX:
        raise serializers.ValidationError("Nested too deeply.")
    if isinstance(value, str):
        _text_check(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if len(key) > CHANGE_KEY_MAX_LENGTH:
                raise serializers.ValidationError(
                    f"Field names are at most {CHANGE_KEY_MAX_LENGTH} characters."
                )
            _text_check(key)
            _json_check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _json_check(item, depth + 1)


class ActorSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField(allow_null=True, help_text="Null if the user was deleted.")


class AuditRecordOutputSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    request_id = serializers.SerializerMethodField()
    changes = serializers.JSONField(help_text="`{field: [old, new]}`; empty once redacted.")

    class Meta:
        model = AuditRecord
        fields = [
            "id",
            "sequence",
            "occurred_at",
            "actor",
            "action",
            "target_type",
            "target_id",
            "changes",
            "request_id",
            "ip",
            "user_agent",
            "status",
            "note",
            "hash",
            "redacted",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "sequence": {
                "help_text": (
                    "Position in the hash chain (1, 2, 3 …). Null for the few milliseconds "
                    "between the record's commit and its seal."
                )
            },
            "hash": {
                "help_text": (
                    "The chain link. Null, like `sequence`, until the record is sealed "
                    "(normally milliseconds after it was written)."
                )
            },
        }

    @extend_schema_field(ActorSerializer(allow_null=True))
    def get_actor(self, record: AuditRecord) -> dict[str, Any] | None:
        if record.actor_id is None:
            return None
        actor = record.actor if AuditRecord.actor.is_cached(record) else None
        return {"id": str(record.actor_id), "username": actor.username if actor else None}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_request_id(self, record: AuditRecord) -> str | None:
        return record.request_id or None


class AuditEventInputSerializer(serializers.Serializer):
    """An event reported by a service client; the caller becomes its actor."""

    openapi_schema_extra: ClassVar[dict[str, Any]] = {
        "properties": {"changes": {"maxProperties": CHANGE_FIELDS_MAX}}
    }

    action = serializers.RegexField(
        ACTION_PATTERN,
        max_length=ACTION_MAX_LENGTH,
        help_text="`<target_type>.<verb>`, e.g. `invoice.paid`. Agora's own actions are refused.",
    )
    target_type = serializers.RegexField(NAME_PATTERN, max_length=TARGET_TYPE_MAX_LENGTH)
    target_id = serializers.CharField(
        max_length=TARGET_ID_MAX_LENGTH, allow_blank=True, validators=[_text_check]
    )
    changes = serializers.DictField(
        child=serializers.ListField(min_length=2, max_length=2, allow_empty=False),
        required=False,
        default=dict,
        help_text=(
            f"`{{field: [old, new]}}`: at most {CHANGE_FIELDS_MAX} fields, names of at most "
            f"{CHANGE_KEY_MAX_LENGTH} characters, values nested at most {CHANGES_DEPTH_MAX} deep, "
            "text without control characters. Never put secrets here."
        ),
    )

    def validate_changes(self, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        if len(value) > CHANGE_FIELDS_MAX:
            raise serializers.ValidationError(f"At most {CHANGE_FIELDS_MAX} fields.")
        _json_check(value)
        return value


class AuditRecordUpdateInputSerializer(serializers.Serializer):
    """The workflow fields; every other field of a record is fixed once written."""

    # Any other field is refused (to_internal_value), and an empty body too (validate).
    openapi_schema_extra: ClassVar[dict[str, Any]] = {
        "additionalProperties": False,
        "minProperties": 1,
    }

    status = serializers.ChoiceField(choices=AuditStatus.choices)
    note = serializers.CharField(
        max_length=NOTE_MAX_LENGTH,
        allow_blank=True,
        trim_whitespace=False,
        validators=[_text_check],
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, Mapping):
            fixed = sorted(set(data) - set(self.fields))
            if fixed:
                raise serializers.ValidationError(
                    {str(name): ["Only `status` and `note` can be changed."] for name in fixed}
                )
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Send `status`, `note` or both.")
        return attrs
