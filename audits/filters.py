"""Query-parameter filters of the audit list. A malformed value is a 400, never a 500."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from audits.models import (
    ACTION_MAX_LENGTH,
    REQUEST_ID_MAX_LENGTH,
    TARGET_ID_MAX_LENGTH,
    TARGET_TYPE_MAX_LENGTH,
    AuditRecord,
    AuditStatus,
)


class DateOrDateTimeField(forms.Field):
    """`2026-11-22` or `2026-11-22T10:00:00Z`; a date is that day in UTC, a naive time UTC."""

    default_error_messages = {"invalid": "Enter a date (YYYY-MM-DD) or an ISO 8601 date-time."}

    def to_python(self, value: Any) -> tuple[dt.datetime, bool] | None:
        if value in (None, ""):
            return None
        text = str(value).strip()
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text)
                return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC), True
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=dt.UTC)
        return moment, False


class OccurredFilter(django_filters.Filter):
    """`occurred_after` is inclusive; `occurred_before` with a date includes that whole day."""

    field_class = DateOrDateTimeField

    def __init__(self, *args: Any, before: bool, **kwargs: Any) -> None:
        self.before = before
        super().__init__(*args, field_name="occurred_at", **kwargs)

    def filter(self, qs: QuerySet, value: tuple[dt.datetime, bool] | None) -> QuerySet:
        if value is None:
            return qs
        moment, is_date = value
        if not self.before:
            return qs.filter(occurred_at__gte=moment)
        if is_date:
            return qs.filter(occurred_at__lt=moment + dt.timedelta(days=1))
        return qs.filter(occurred_at__lte=moment)


class AuditRecordFilter(django_filters.FilterSet):
    actor = django_filters.UUIDFilter(field_name="actor", help_text="The actor's user id.")
    action = django_filters.CharFilter(max_length=ACTION_MAX_LENGTH, help_text="`user.locked_out`")
    target_type = django_filters.CharFilter(max_length=TARGET_TYPE_MAX_LENGTH)
    target_id = django_filters.CharFilter(max_length=TARGET_ID_MAX_LENGTH)
    occurred_after = OccurredFilter(before=False, help_text="Inclusive; a date or a date-time.")
    occurred_before = OccurredFilter(
        before=True, help_text="Inclusive; a date includes that whole day (UTC)."
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
