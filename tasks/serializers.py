"""Input and output shapes of the jobs API. Output is built by tasks.representations; the
output serializer renders through it so the OpenAPI document still describes every field."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tasks.kinds import kinds
from tasks.models import Job, JobPriority, JobStatus
from tasks.representations import job_representation
from tasks.services.jobs import BATCH_MAX_JOBS

KIND_HELP = (
    "`export` (params `file_format`: csv|json|xlsx, default csv; `filters`: an object of the "
    "post list's filters and `ordering`, as `GET posts` takes them), "
    "`report` (`file_format`: pdf|xlsx, default pdf; `days`: 1-365, default 30), "
    "`thumbnail` (`upload`: an upload id), "
    "`ai_summary` (`post`: a post id; 503 when no AI provider is configured)."
)


def _unknown_kind_message() -> str:
    return f"Unknown job kind; one of: {', '.join(sorted(kinds()))}."


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
            choices=sorted(kinds()),
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
