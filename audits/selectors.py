"""Reads of the audits app. Only administrators reach them (the views check the role)."""

from __future__ import annotations

import uuid

from django.db.models import F, Func, IntegerField, QuerySet, Subquery

from audits.models import AuditChainHead, AuditRecord


def audit_record_list() -> QuerySet[AuditRecord]:
    """Every record, newest first, with its actor in the same query.

    Chain order, with the records still awaiting their seal (no sequence yet) first, newest
    of them first.
    """
    return AuditRecord.objects.select_related("actor").order_by(
        F("sequence").desc(nulls_first=True), F("id").desc()
    )


def audit_record_get(*, record_id: uuid.UUID | str) -> AuditRecord | None:
    return audit_record_list().filter(pk=record_id).first()


def audit_record_count() -> int:
    """How many records there are: records are never deleted, so the head's sequence says,
    plus the records awaiting their seal (read in the same statement, so a seal committing
    meanwhile is counted once)."""
    unsealed = (
        AuditRecord.objects.filter(sequence__isnull=True)
        .order_by()
        .annotate(count=Func(F("id"), function="COUNT", output_field=IntegerField()))
        .values("count")
    )
    head = (
        AuditChainHead.objects.filter(pk=1)
        .annotate(unsealed=Subquery(unsealed, output_field=IntegerField()))
        .values_list("sequence", "unsealed")
        .first()
    )
    if head is None:
        return AuditRecord.objects.count()
    return head[0] + (head[1] or 0)
