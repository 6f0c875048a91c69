"""Input and output shapes of the jobs API. Output is built by tasks.representations; the
output serializer renders through it so the OpenAPI document still describes every field."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from tasks.models import Job, JobPriority, JobStatus
from tasks.representations import job_representation
from tasks.services.jobs import BATCH_MAX_JOBS

KIND_HELP = (
    "`export` (params `file_format`: csv|json|xlsx, default csv; `filters`: an object of the "
    "post list's filters and `ordering`, as `GET posts` takes them), "
    "`report` (`file_format`: pdf|xlsx, default pdf; `days`: 1-365, default 30), "
    "`thumbnail` (`upload`: an upload id)."
)


class JobInputSerializer(serializers.Serializer):
    kind = serializers.CharField(max_length=32, help_text=KIND_HELP)
    params = serializers.DictField(required=False, default=dict)
    priority = serializers.ChoiceField(choices=JobPriority.choices, default=JobPriority.NORMAL)


class JobBatchInputSerializer(serializers.Serializer):
    """The envelope; each job is then validated on its own, so errors name its index."""

    jobs = serializers.ListField(
        child=serializers.DictField(), min_length=1, max_length=BATCH_MAX_JOBS
    )


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
    kind = serializers.CharField(max_length=32, required=False, allow_blank=True)
