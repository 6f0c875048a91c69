"""Jobs in the admin: find them, read why they failed, requeue or cancel them.

Every field is read-only: a job's state changes only through the engine's conditional updates
(tasks.services.jobs), so the two actions call `job_requeue` and `job_cancel`, exactly as the
API and `manage.py jobs` do, and a refusal (a job still running, an identical one already
queued) is a message on the page. The periodic schedule (beat) is django_celery_beat's
"Periodic tasks" page (docs/jobs.md, "The schedule").
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from config.core.admin import ViewOnlyAdmin
from config.core.errors import DomainError
from tasks.kinds import kinds
from tasks.models import Job, WebhookDelivery, WebhookEndpoint
from tasks.services import job_cancel, job_requeue

# A refused job is named in its own message; past this many, the rest are counted.
REFUSALS_SHOWN = 10


class KindFilter(admin.SimpleListFilter):
    """The registered kinds, without the SELECT DISTINCT over the table a field filter does."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in sorted(kinds())]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(Job)
class JobAdmin(ViewOnlyAdmin):
    deletable = False
    list_display = (
        "id",
        "kind",
        "status",
        "priority",
        "owner",
        "progress",
        "attempts_of",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", KindFilter, "priority")
    # Owners by username; a job by its full id (get_search_results).
    search_fields = ("owner__username",)
    search_help_text = "A job's id, or its owner's username."
    list_select_related = ("owner",)
    # A COUNT(*) over the whole table on every page is what makes big changelists slow.
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("id", "kind", "owner", "priority", "status", "progress", "params")}),
        ("Outcome", {"fields": ("result", "result_file", "result_expires_at", "error")}),
        (
            "Attempts",
            {
                "fields": (
                    "attempts",
                    "max_attempts",
                    "worker",
                    "run_after",
                    "dispatched_at",
                    "lease_expires_at",
                    "cancel_requested",
                )
            },
        ),
        (
            "Request",
            {"fields": ("request_id", "dedupe_key", "notify", "created_at", "started_at")},
        ),
        (None, {"fields": ("finished_at",)}),
    )
    readonly_fields = tuple(field.name for field in Job._meta.fields)
    actions = ["requeue", "cancel"]

    @admin.display(description="attempts", ordering="attempts")
    def attempts_of(self, job: Job) -> str:
        return f"{job.attempts} / {job.max_attempts}"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Job], search_term: str
    ) -> tuple[QuerySet[Job], bool]:
        try:
            job_id = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(pk=job_id), False

    @admin.action(description="Requeue the selected dead, failed or cancelled jobs")
    def requeue(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        done, refused = self._each(request, queryset, job_requeue)
        if done:
            self.message_user(request, f"Requeued {done} job(s).", messages.SUCCESS)
        self._refusals(request, "Not requeued", refused)

    @admin.action(description="Cancel the selected queued or running jobs")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        done, refused = self._each(request, queryset, job_cancel)
        if done:
            self.message_user(
                request,
                f"Cancelled {done} job(s); a running one stops at its next step.",
                messages.SUCCESS,
            )
        self._refusals(request, "Not cancelled", refused)

    def _each(
        self, request: HttpRequest, queryset: QuerySet[Job], service: Any
    ) -> tuple[int, list[tuple[Any, str]]]:
        """Call the service once per job, each in its own transaction: one refusal does not
        undo the others."""
        done = 0
        refused: list[tuple[Any, str]] = []
        for job_id in queryset.order_by("created_at").values_list("pk", flat=True):
            try:
                service(actor=request.user, job_id=job_id)
            except DomainError as error:
                refused.append((job_id, error.message))
            else:
                done += 1
        return done, refused

    def _refusals(self, request: HttpRequest, what: str, refused: list[tuple[Any, str]]) -> None:
        for job_id, reason in refused[:REFUSALS_SHOWN]:
            self.message_user(request, f"{what}: {job_id}: {reason}", messages.WARNING)
        if len(refused) > REFUSALS_SHOWN:
            more = len(refused) - REFUSALS_SHOWN
            self.message_user(request, f"{what}: {more} more job(s).", messages.WARNING)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ViewOnlyAdmin):
    """Read-only: endpoints belong to their owners (the API); secrets are never shown."""

    list_display = ("id", "url", "owner", "enabled", "failing_since", "created_at")
    list_filter = ("enabled",)
    search_fields = ("owner__username", "url")
    list_select_related = ("owner",)
    show_full_result_count = False
    fields = (
        "id",
        "owner",
        "url",
        "events",
        "enabled",
        "disabled_at",
        "failing_since",
        "previous_secret_expires_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ViewOnlyAdmin):
    """The delivery log; a dead delivery is requeued through its job (the Jobs page)."""

    deletable = False

    list_display = (
        "id",
        "event",
        "endpoint",
        "status",
        "attempts",
        "response_status",
        "created_at",
    )
    list_filter = ("status", "event")
    list_select_related = ("endpoint",)
    show_full_result_count = False
    readonly_fields = tuple(field.name for field in WebhookDelivery._meta.fields)
