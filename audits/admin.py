"""The audit trail in the admin: read-only but for status and note, redaction as an action.

Nothing is added or deleted here; every write goes through audits.services, so edits and
redactions are themselves recorded.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import F, QuerySet
from django.http import HttpRequest

from audits.models import AuditRecord, AuditStatus
from audits.services import audit_record_redact, audit_record_update
from config.core.errors import DomainError

FIXED_FIELDS = (
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
    "redacted",
    "hash",
    "prev_hash",
)


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    list_display = (
        "sequence",
        "occurred_at",
        "action",
        "target_type",
        "target_id",
        "actor",
        "status",
        "redacted",
    )
    list_filter = ("status", "redacted", "target_type", ("occurred_at", admin.DateFieldListFilter))
    search_fields = ("=request_id", "=target_id", "=action", "actor__username")
    search_help_text = "Exact request id, target id or action, or part of the actor's username."
    list_select_related = ("actor",)
    # Newest first; records awaiting their seal (no sequence yet) on top.
    ordering = (F("sequence").desc(nulls_first=True), F("id").desc())
    fields = (*FIXED_FIELDS, "status", "note")
    readonly_fields = FIXED_FIELDS
    # Counting a long trail on every page view is most of the page's database work.
    show_full_result_count = False
    actions = ["acknowledge", "resolve", "redact"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is not None and obj.redacted:
            return (*FIXED_FIELDS, "note")
        return FIXED_FIELDS

    def save_model(self, request: HttpRequest, obj: AuditRecord, form: Any, change: bool) -> None:
        """Status and note through the service, which records the edit."""
        try:
            audit_record_update(record=obj, actor=request.user, status=obj.status, note=obj.note)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)

    @admin.action(description="Mark acknowledged")
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[AuditRecord]) -> None:
        self._set_status(request, queryset, AuditStatus.ACKNOWLEDGED)

    @admin.action(description="Mark resolved")
    def resolve(self, request: HttpRequest, queryset: QuerySet[AuditRecord]) -> None:
        self._set_status(request, queryset, AuditStatus.RESOLVED)

    @admin.action(description="Redact (clear changes, ip, user agent and note for good)")
    def redact(self, request: HttpRequest, queryset: QuerySet[AuditRecord]) -> None:
        redacted = 0
        for record in queryset.filter(redacted=False).order_by("sequence", "id"):
            audit_record_redact(record=record, actor=request.user)
            redacted += 1
        self.message_user(request, f"Redacted {redacted} record(s).", messages.SUCCESS)

    def _set_status(
        self, request: HttpRequest, queryset: QuerySet[AuditRecord], status: str
    ) -> None:
        for record in queryset.order_by("sequence", "id"):
            audit_record_update(record=record, actor=request.user, status=status)
        self.message_user(request, f"Updated {queryset.count()} record(s).", messages.SUCCESS)
