"""Reads of the audits app. Only administrators reach them (the views check the role)."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from audits.models import AuditChainHead, AuditRecord


def audit_record_list() -> QuerySet[AuditRecord]:
    """Every record, newest first (chain order), with its actor in the same query."""
    return AuditRecord.objects.select_related("actor").order_by("-sequence")


def audit_record_get(*, record_id: uuid.UUID | str) -> AuditRecord | None:
    return audit_record_list().filter(pk=record_id).first()


def audit_record_count() -> int:
    """How many records there are: records are never deleted, so the head's sequence says."""
    head = AuditChainHead.objects.filter(pk=1).values_list("sequence", flat=True).first()
    return head if head is not None else AuditRecord.objects.count()
