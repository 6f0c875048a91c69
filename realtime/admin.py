"""Notifications in the admin: read-only, for support ("did they get told?").

Notifications are written by services and purged after 30 days; nothing here writes them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from config.core.admin import ViewOnlyAdmin
from realtime.models import UNREAD, Notification


class ReadFilter(admin.SimpleListFilter):
    title = "read"
    parameter_name = "read"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "no":
            return queryset.filter(UNREAD)
        if self.value() == "yes":
            return queryset.filter(read_at__isnull=False)
        return queryset


@admin.register(Notification)
class NotificationAdmin(ViewOnlyAdmin):
    deletable = False
    list_display = ("id", "recipient", "kind", "is_read", "created_at")
    list_filter = ("kind", ReadFilter)
    list_select_related = ("recipient",)
    search_fields = ("recipient__username", "=recipient__email")
    fields = ("id", "recipient", "kind", "data", "read_at", "created_at")
    readonly_fields = fields
    date_hierarchy = "created_at"
    # A COUNT(*) over the whole table on every page is what makes big changelists slow.
    show_full_result_count = False

    @admin.display(boolean=True, description="read", ordering="read_at")
    def is_read(self, notification: Notification) -> bool:
        return notification.read
