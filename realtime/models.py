"""Notifications: what happened to a user's things while they looked elsewhere.

A notification is written once (services), pushed to its recipient's `user:<id>` room after
commit, read through the API, marked read by its recipient, and purged after
NOTIFICATION_RETENTION_DAYS whether read or not.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from uuid_utils.compat import uuid7

NOTIFICATION_RETENTION_DAYS = 30
# Longest text excerpt a notification's data carries (a comment's body, say).
NOTIFICATION_EXCERPT_MAX_LENGTH = 140
UNREAD = Q(read_at__isnull=True)


class NotificationKind(models.TextChoices):
    COMMENT_ON_POST = "comment_on_post", "Comment on your post"
    REPLY_TO_COMMENT = "reply_to_comment", "Reply to your comment"
    JOB_FINISHED = "job_finished", "Your job finished"


class Notification(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # Indexed first in the composite indexes below, which serve every recipient lookup.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
    )
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    # What a client needs to render and link it, per kind (realtime.representations).
    data = models.JSONField(default=dict, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=NotificationKind.values),
                name="realtime_notification_kind_valid",
            ),
        ]
        indexes = [
            # The list, newest first (also `?unread=false`, filtered on the way).
            models.Index(
                fields=["recipient", "-created_at", "-id"], name="realtime_notif_recipient"
            ),
            # `?unread=true`, "mark all read", and the unread ones a WebSocket gets on
            # connect: small, since most notifications are read.
            models.Index(
                fields=["recipient", "created_at", "id"],
                condition=UNREAD,
                name="realtime_notif_unread",
            ),
            # The daily purge of old ones.
            models.Index(fields=["created_at"], name="realtime_notif_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"

    @property
    def read(self) -> bool:
        return self.read_at is not None
