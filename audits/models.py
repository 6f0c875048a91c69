"""Audit records and the head of their hash chain.

Which fields the chain covers, and why `status`, `note` and the redactable fields stay out of
the link hash, is explained in `audits/chain.py`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from uuid_utils.compat import uuid7

from config.core.context import USER_AGENT_MAX_LENGTH

ACTION_MAX_LENGTH = 100
TARGET_TYPE_MAX_LENGTH = 50
TARGET_ID_MAX_LENGTH = 320
REQUEST_ID_MAX_LENGTH = 128
NOTE_MAX_LENGTH = 2000


class AuditStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class AuditRecord(models.Model):
    """One event, linked to the one before it by `prev_hash`; written only by audits.services.

    `actor` keeps the id of a user even after that user is deleted (no database constraint,
    nothing cascades): rewriting history would break the chain, and the id still means
    something to an investigator.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    sequence = models.BigIntegerField(
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text="Position in the chain; NULL until the record is sealed (just after commit).",
    )
    occurred_at = models.DateTimeField(editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
        editable=False,
    )
    action = models.CharField(max_length=ACTION_MAX_LENGTH, editable=False)
    target_type = models.CharField(max_length=TARGET_TYPE_MAX_LENGTH, editable=False)
    target_id = models.CharField(max_length=TARGET_ID_MAX_LENGTH, blank=True, editable=False)
    changes = models.JSONField(default=dict, blank=True, editable=False)
    request_id = models.CharField(max_length=REQUEST_ID_MAX_LENGTH, blank=True, editable=False)
    ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    user_agent = models.CharField(max_length=USER_AGENT_MAX_LENGTH, blank=True, editable=False)
    status = models.CharField(max_length=16, choices=AuditStatus.choices, default=AuditStatus.OPEN)
    note = models.TextField(max_length=NOTE_MAX_LENGTH, blank=True)
    redacted = models.BooleanField(default=False, editable=False)
    content_salt = models.CharField(
        max_length=32,
        blank=True,
        editable=False,
        help_text="Random salt of `content_digest`; cleared by redaction.",
    )
    content_digest = models.CharField(
        max_length=64,
        editable=False,
        help_text="Salted SHA-256 of changes, ip and user agent, taken at write time.",
    )
    # NULL (not "") marks an unsealed record, like `sequence`; the check constraint below
    # keeps the three in step.
    prev_hash = models.CharField(  # noqa: DJ001
        max_length=64, null=True, blank=True, editable=False
    )
    hash = models.CharField(  # noqa: DJ001
        max_length=64,
        null=True,
        blank=True,
        editable=False,
        help_text="Link hash; NULL until the record is sealed (just after commit).",
    )

    class Meta:
        # Newest first: records awaiting their seal (no sequence yet) come before every sealed
        # one, in id (UUIDv7, time) order. PostgreSQL's `DESC` indexes hold NULLs first, so
        # the indexes on `-sequence` still serve this order.
        ordering = [F("sequence").desc(nulls_first=True), F("id").desc()]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=AuditStatus.values), name="audits_record_status_valid"
            ),
            models.CheckConstraint(condition=Q(sequence__gte=1), name="audits_record_sequence_pos"),
            models.CheckConstraint(
                condition=Q(sequence__isnull=True, prev_hash__isnull=True, hash__isnull=True)
                | Q(sequence__isnull=False, prev_hash__isnull=False, hash__isnull=False),
                name="audits_record_sealed_whole",
            ),
            models.CheckConstraint(
                condition=~Q(action="") & ~Q(target_type=""), name="audits_record_action_set"
            ),
            models.CheckConstraint(
                condition=Q(redacted=False)
                | (Q(ip__isnull=True) & Q(user_agent="") & Q(note="") & Q(content_salt="")),
                name="audits_record_redacted_cleared",
            ),
        ]
        indexes = [
            models.Index(fields=["actor", "-sequence"], name="audits_record_actor"),
            models.Index(fields=["action", "-sequence"], name="audits_record_action"),
            models.Index(
                fields=["target_type", "target_id", "-sequence"], name="audits_record_target"
            ),
            models.Index(fields=["request_id", "-sequence"], name="audits_record_request"),
            models.Index(fields=["status", "-sequence"], name="audits_record_status"),
            models.Index(fields=["-occurred_at"], name="audits_record_occurred"),
            # The records awaiting their seal, in the order the sealer takes them.
            models.Index(
                fields=["id"], condition=Q(sequence__isnull=True), name="audits_record_unsealed"
            ),
        ]

    def __str__(self) -> str:
        if self.sequence is None:
            return f"(unsealed) {self.action} {self.target_type}:{self.target_id}"
        return f"#{self.sequence} {self.action} {self.target_type}:{self.target_id}"


class AuditChainHead(models.Model):
    """The newest sealed link of the chain, in a single row that every seal locks and moves.

    The lock serialises sealers (never the writers: records are inserted unsealed), so two
    sealers never link to the same predecessor; the row also lets verification notice records
    cut off the end of the chain.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    sequence = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="audits_head_single_row"),
        ]

    def __str__(self) -> str:
        return f"audit chain head #{self.sequence}"
