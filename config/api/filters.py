"""The date filters every list shares: `2026-11-22` (that whole day, UTC) or an ISO date-time."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone


class DateOrDateTimeField(forms.Field):
    """`2026-11-22` or `2026-11-22T10:00:00Z`; a date is the start of that day (UTC), a naive
    time is UTC. Cleans to (moment in UTC, given as a date)."""

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
            if timezone.is_naive(moment):
                moment = moment.replace(tzinfo=dt.UTC)
            # In UTC: PostgreSQL refuses offsets beyond ±15:59, which Python accepts, and a
            # moment whose UTC time leaves years 1 to 9999 cannot be compared at all.
            return moment.astimezone(dt.UTC), False
        except (ValueError, OverflowError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class DateOrDateTimeFilter(django_filters.Filter):
    """`*_after` is inclusive; `*_before` with a date includes that whole day."""

    field_class = DateOrDateTimeField

    def __init__(self, *args: Any, before: bool, **kwargs: Any) -> None:
        self.before = before
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: tuple[dt.datetime, bool] | None) -> QuerySet:
        if value is None:
            return qs
        moment, is_date = value
        if self.before:
            if is_date:
                if moment.date() == dt.date.max:
                    return qs.filter(**{f"{self.field_name}__isnull": False})
                return qs.filter(**{f"{self.field_name}__lt": moment + dt.timedelta(days=1)})
            return qs.filter(**{f"{self.field_name}__lte": moment})
        return qs.filter(**{f"{self.field_name}__gte": moment})
