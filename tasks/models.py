"""Background jobs. The Job row is the source of truth and the outbox (docs/jobs.md).

A job is written in its caller's transaction, dispatched to the broker once that commits, and
moved through one state machine only by the conditional updates of `tasks.services.jobs`:

    queued ──claim──▶ running ──▶ succeeded | failed (not retryable) | cancelled
       ▲                 │
       └──retry (backoff)┘──attempts spent──▶ dead ──requeue──▶ queued

`dispatched_at` is the outbox flag: NULL means "no message for this row is on the broker"
(never sent, broker down, parked behind its owner's or its kind's concurrency cap, or waiting
out a retry's backoff until `run_after`); the sweep sends those whose turn has come. A running
job holds a lease (`lease_expires_at`) its runner keeps extending; a stale lease means the
worker died, and the sweep gives the job back to the queue. `attempts` doubles as the fencing
token: a runner whose lease was taken over can no longer write the row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from uuid_utils.compat import uuid7

JOB_KIND_MAX_LENGTH = 32
JOB_ERROR_MAX_LENGTH = 2000


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    DEAD = "dead", "Dead"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
ENDED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.DEAD)


class JobPriority(models.TextChoices):
    HIGH = "high", "High"
    NORMAL = "normal", "Normal"
    LOW = "low", "Low"


# Most urgent first: the order workers read the queues in, and the order parked jobs leave.
PRIORITY_ORDER = (JobPriority.HIGH, JobPriority.NORMAL, JobPriority.LOW)


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs", db_index=False
    )
    kind = models.CharField(max_length=JOB_KIND_MAX_LENGTH)
    params = models.JSONField(default=dict, blank=True)
    priority = models.CharField(
        max_length=8, choices=JobPriority.choices, default=JobPriority.NORMAL
    )
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    # A result file in the job results storage (tasks.results); "" when the kind has none.
    result_file = models.CharField(max_length=255, blank=True, default="")
    result_expires_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=4)
    # kind + canonical params: identical requests of one owner share a job (API.md).
    dedupe_key = models.CharField(max_length=64)
    # Whether the owner is told (a `job_finished` notification) when it ends.
    notify = models.BooleanField(default=True)
    cancel_requested = models.BooleanField(default=False)
    request_id = models.CharField(max_length=128, blank=True, default="")
    run_after = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=JobStatus.values), name="tasks_job_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(priority__in=JobPriority.values), name="tasks_job_priority_valid"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="tasks_job_progress_max"),
            # One active job per identical request: a concurrent duplicate fails to insert and
            # gets the first one instead (tasks.services.jobs.job_create).
            models.UniqueConstraint(
                fields=["owner", "dedupe_key"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="tasks_job_one_active_per_request",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="tasks_job_owner"),
            # The sweep and the dispatch of parked jobs: small, only unfinished rows.
            models.Index(
                fields=["status", "run_after"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="tasks_job_active",
            ),
            # Dead letters, and the purge of expired results.
            models.Index(fields=["status", "-finished_at"], name="tasks_job_ended"),
            models.Index(
                fields=["result_expires_at"],
                condition=~Q(result_file=""),
                name="tasks_job_result_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} ({self.status})"


# --- Webhooks (tasks.services.webhooks, docs/webhooks.md) ---------------------------------------

WEBHOOK_URL_MAX_LENGTH = 2000
WEBHOOK_EVENT_MAX_LENGTH = 32


class WebhookEndpoint(models.Model):
    """Where one user's (or an admin's) events are POSTed, signed per Standard Webhooks.

    `previous_secret` keeps signing for a day after a rotation (until
    `previous_secret_expires_at`), so receivers can switch keys without losing deliveries.
    `failing_since` is the first failure since the endpoint's last success: after
    WEBHOOK_DISABLE_AFTER_SECONDS of that the endpoint is disabled.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        db_index=False,
    )
    url = models.CharField(max_length=WEBHOOK_URL_MAX_LENGTH)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=128)
    previous_secret = models.CharField(max_length=128, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="tasks_webhook_owner"),
            models.Index(fields=["owner"], condition=Q(enabled=True), name="tasks_webhook_enabled"),
        ]

    def __str__(self) -> str:
        return f"{self.url} ({self.pk})"


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    DEAD = "dead", "Dead"


class WebhookDelivery(models.Model):
    """One event for one endpoint. Its id is the `webhook-id` header, the same on every
    attempt; `body` is the exact JSON sent (and signed) each time. Its attempts are a job of
    kind `webhook_delivery` (retries, backoff, dead letters and requeue are the engine's)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    job = models.OneToOneField(
        Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="webhook_delivery"
    )
    event = models.CharField(max_length=WEBHOOK_EVENT_MAX_LENGTH)
    body = models.TextField()
    status = models.CharField(
        max_length=16,
        choices=WebhookDeliveryStatus.choices,
        default=WebhookDeliveryStatus.PENDING,
    )
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # Why the last attempt failed (refused target, timeout, the status), or "".
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=WebhookDeliveryStatus.values),
                name="tasks_webhook_delivery_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["endpoint", "-created_at", "-id"], name="tasks_webhook_delivery_log"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.pk} ({self.status})"
