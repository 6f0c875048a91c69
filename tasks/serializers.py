"""Input and output shapes of the jobs API. Output is built by tasks.representations; the
output serializer renders through it so the OpenAPI document still describes every field."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tasks.kinds import kinds, requestable_kinds
from tasks.models import (
    WEBHOOK_EVENT_MAX_LENGTH,
    WEBHOOK_URL_MAX_LENGTH,
    Job,
    JobPriority,
    JobStatus,
    WebhookDeliveryStatus,
)
from tasks.representations import (
    job_representation,
    webhook_delivery_representation,
    webhook_endpoint_representation,
)
from tasks.services.jobs import BATCH_MAX_JOBS
from tasks.services.webhooks import WEBHOOK_EVENTS

KIND_HELP = (
    "`export` (params `file_format`: csv|json|xlsx, default csv; `filters`: an object of the "
    "post list's filters and `ordering`, as `GET posts` takes them), "
    "`report` (`file_format`: pdf|xlsx, default pdf; `days`: 1-365, default 30), "
    "`thumbnail` (`upload`: an upload id), "
    "`ai_summary` (`post`: a post id; 503 when no AI provider is configured)."
)


def _unknown_kind_message() -> str:
    return f"Unknown job kind; one of: {', '.join(requestable_kinds())}."


def _known_kind(value: str) -> str:
    """A kind this server runs (a filter naming another is a mistake, not an empty list)."""
    if value and value not in kinds():
        raise serializers.ValidationError(_unknown_kind_message())
    return value


def _storable(value: Any) -> None:
    """Params are stored as they come (a kind's clean may keep any field): no NUL character
    and no lone surrogate anywhere, which PostgreSQL refuses (a 500 otherwise)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _storable(item)
    elif isinstance(value, list):
        for item in value:
            _storable(item)
    elif isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError("NUL characters are not allowed.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise serializers.ValidationError("Not valid Unicode text.") from None


class JobInputSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text=KIND_HELP)
    params = serializers.DictField(required=False, default=dict, validators=[_storable])
    priority = serializers.ChoiceField(choices=JobPriority.choices, default=JobPriority.NORMAL)

    def get_fields(self) -> dict[str, serializers.Field]:
        # The kinds this server runs (JOB_KINDS), read when a request is checked rather than
        # at import; the OpenAPI document lists them as the enum they are.
        fields = super().get_fields()
        fields["kind"] = serializers.ChoiceField(
            choices=requestable_kinds(),
            help_text=KIND_HELP,
            error_messages={"invalid_choice": _unknown_kind_message()},
        )
        return fields


@extend_schema_field(JobInputSerializer)
class _JobItemField(serializers.DictField):
    """One job of a batch: any object here, validated on its own by the view (so its errors
    name its index); documented as the job it must be."""


class JobBatchInputSerializer(serializers.Serializer):
    """The envelope; each job is then validated on its own, so errors name its index."""

    jobs = serializers.ListField(child=_JobItemField(), min_length=1, max_length=BATCH_MAX_JOBS)


class JobOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    params = serializers.DictField()
    priority = serializers.ChoiceField(choices=JobPriority.choices)
    status = serializers.ChoiceField(choices=JobStatus.choices)
    progress = serializers.IntegerField(min_value=0, max_value=100)
    result = serializers.JSONField(allow_null=True, help_text="A small JSON result, or null.")
    result_url = serializers.URLField(
        allow_null=True, help_text="Where the result file is downloaded (owner only)."
    )
    error = serializers.CharField(allow_null=True, help_text="Why the last attempt failed.")
    attempts = serializers.IntegerField(min_value=0)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Job) -> dict[str, Any]:
        return job_representation(instance)


class JobBatchOutputSerializer(serializers.Serializer):
    results = JobOutputSerializer(many=True)


class JobListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=JobStatus.choices, required=False, allow_blank=True)
    kind = serializers.CharField(
        max_length=32, required=False, allow_blank=True, validators=[_known_kind]
    )


# --- webhooks ---------------------------------------------------------------------------------

EVENTS_HELP = "Event names: " + ", ".join(f"`{name}`" for name in WEBHOOK_EVENTS) + "."
SIGNING_KEY_HELP = (
    "`whsec_` then the base64 of 24 to 64 bytes; write-only. Omitted on create: one is "
    "generated and returned once in the 201. A new one on PATCH rotates: the previous secret "
    "keeps signing beside it for 24 h."
)


class WebhookCreateInputSerializer(serializers.Serializer):
    url = serializers.CharField(
        max_length=WEBHOOK_URL_MAX_LENGTH,
        help_text=(
            "http or https. Hosts in private, loopback, link-local or reserved ranges are "
            "refused unless inside WEBHOOK_ALLOWED_NETWORKS."
        ),
    )
    # Names are checked by the service, with the URL and the secret, so that every problem
    # is reported at once.
    events = serializers.ListField(
        child=serializers.CharField(max_length=WEBHOOK_EVENT_MAX_LENGTH),
        min_length=1,
        max_length=len(WEBHOOK_EVENTS),
        help_text=EVENTS_HELP,
    )
    secret = serializers.CharField(
        required=False, write_only=True, max_length=128, help_text=SIGNING_KEY_HELP
    )


class WebhookUpdateInputSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=WEBHOOK_URL_MAX_LENGTH, required=False)
    # Names are checked by the service, with the URL and the secret, so that every problem
    # is reported at once.
    events = serializers.ListField(
        child=serializers.CharField(max_length=WEBHOOK_EVENT_MAX_LENGTH),
        min_length=1,
        max_length=len(WEBHOOK_EVENTS),
        required=False,
        help_text=EVENTS_HELP,
    )
    secret = serializers.CharField(
        required=False, write_only=True, max_length=128, help_text=SIGNING_KEY_HELP
    )
    enabled = serializers.BooleanField(
        required=False,
        help_text="`true` re-enables an endpoint disabled after days of failed deliveries.",
    )


class WebhookOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=WEBHOOK_EVENTS))
    enabled = serializers.BooleanField()
    disabled_at = serializers.DateTimeField(
        allow_null=True, help_text="When it was disabled (failures, or its owner)."
    )
    failing_since = serializers.DateTimeField(
        allow_null=True, help_text="First failed attempt since the last success."
    )
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Until when the secret before the last rotation also signs."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return webhook_endpoint_representation(instance)


class WebhookCreatedSerializer(WebhookOutputSerializer):
    secret = serializers.CharField(
        help_text="The signing secret: shown here once, never again (store it now)."
    )


class WebhookDeliveryOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The `webhook-id` header, the same on every attempt.")
    event = serializers.CharField()
    status = serializers.ChoiceField(choices=WebhookDeliveryStatus.choices)
    attempts = serializers.IntegerField(min_value=0)
    response_status = serializers.IntegerField(
        allow_null=True, help_text="The HTTP status of the last answer."
    )
    error = serializers.CharField(allow_null=True, help_text="Why the last attempt failed.")
    job = serializers.UUIDField(
        allow_null=True,
        help_text="The job sending it: a dead one is requeued with `POST jobs/{id}/requeue`.",
    )
    created_at = serializers.DateTimeField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return webhook_delivery_representation(instance)
