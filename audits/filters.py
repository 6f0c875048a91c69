"""Query-parameter filters of the audit list. A malformed value is a 400, never a 500."""

from __future__ import annotations

import django_filters

from audits.models import (
    ACTION_MAX_LENGTH,
    REQUEST_ID_MAX_LENGTH,
    TARGET_ID_MAX_LENGTH,
    TARGET_TYPE_MAX_LENGTH,
    AuditRecord,
    AuditStatus,
)
from config.api.filters import DateOrDateTimeFilter


class AuditRecordFilter(django_filters.FilterSet):
    actor = django_filters.UUIDFilter(field_name="actor", help_text="The actor's user id.")
    action = django_filters.CharFilter(max_length=ACTION_MAX_LENGTH, help_text="`user.locked_out`")
    target_type = django_filters.CharFilter(max_length=TARGET_TYPE_MAX_LENGTH)
    target_id = django_filters.CharFilter(max_length=TARGET_ID_MAX_LENGTH)
    occurred_after = DateOrDateTimeFilter(
        field_name="occurred_at", before=False, help_text="Inclusive; a date or a date-time."
    )
    occurred_before = DateOrDateTimeFilter(
        field_name="occurred_at",
        before=True,
        help_text="Inclusive; a date includes that whole day (UTC).",
    )
    request_id = django_filters.CharFilter(max_length=REQUEST_ID_MAX_LENGTH)
    status = django_filters.ChoiceFilter(choices=AuditStatus.choices)

    class Meta:
        model = AuditRecord
        fields = [
            "actor",
            "action",
            "target_type",
            "target_id",
            "occurred_after",
            "occurred_before",
            "request_id",
            "status",
        ]
