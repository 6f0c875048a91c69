"""`/api/v1/audits/…`: the audit trail for administrators, and event reporting for service
clients (with an admin's API key). Thin: validate, call a service or selector, shape the
answer."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audits import selectors, services
from audits.filters import AuditRecordFilter
from audits.models import AuditRecord
from audits.permissions import CanReportAuditEvents, IsAuditAdmin
from audits.serializers import (
    AuditEventInputSerializer,
    AuditRecordOutputSerializer,
    AuditRecordUpdateInputSerializer,
)
from config.api.idempotency.mixin import IdempotentMixin
from config.api.openapi import error_responses

TAG = "audits"
RECORD_EXAMPLE = OpenApiExample(
    "Record",
    response_only=True,
    value={
        "id": "019a8f3e-7c1d-7b2a-9f00-4c3e2d1b0a99",
        "sequence": 4812,
        "occurred_at": "2026-11-22T10:00:00.123456Z",
        "actor": {"id": "019a8f3e-1111-7000-8000-000000000001", "username": "jürgen.müller"},
        "action": "user.role_changed",
        "target_type": "user",
        "target_id": "019a8f3e-2222-7000-8000-000000000002",
        "changes": {"role": ["user", "admin"], "is_staff": [False, True]},
        "request_id": "b7c1e2a4-checkout-42",
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "status": "open",
        "note": "",
        "hash": "9f2b5c0e4d6a8b1c3e5f7a9b0c2d4e6f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d",
        "redacted": False,
    },
)
UPDATE_EXAMPLE = OpenApiExample(
    "Triage",
    request_only=True,
    value={"status": "acknowledged", "note": "Checked with Siobhán: planned promotion."},
)
RECORD_ID = OpenApiParameter(
    "record_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The record's id."
)
WRITE_DESCRIPTION = (
    "Only `status` (`open`, `acknowledged`, `resolved`) and `note` can change; any other "
    "field in the body is a 400. The edit is itself recorded (`audit.updated`), and neither "
    "field is part of the hash chain, so verification stays intact."
)


class AuditRecordListCreateView(IdempotentMixin, ListAPIView):
    serializer_class = AuditRecordOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = AuditRecordFilter

    def get_permissions(self) -> list:
        return [CanReportAuditEvents()] if self.request.method == "POST" else [IsAuditAdmin()]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.audit_record_list()

    def get_list_count(self, queryset: QuerySet[AuditRecord]) -> int:
        """The whole trail's size from the chain head and the records awaiting their seal,
        instead of counting every row."""
        filtered = any(
            self.request.query_params.get(name) for name in AuditRecordFilter.base_filters
        )
        return queryset.count() if filtered else selectors.audit_record_count()

    @extend_schema(
        tags=[TAG],
        summary="List audit records (admin)",
        description=(
            "Newest first (chain order; records awaiting their seal, whose `sequence` and "
            "`hash` are still null, come first). Filters combine with AND; a malformed value "
            "is a 400. "
            "`occurred_after` and `occurred_before` take a date or an ISO 8601 date-time."
        ),
        responses={200: AuditRecordOutputSerializer(many=True), **error_responses(400, 401, 403)},
        examples=[RECORD_EXAMPLE],
    )
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=[TAG],
        summary="Report an external event (admin, or an admin's API key)",
        description=(
            "For administrators, with a bearer token or with their own API key (`X-API-Key`): "
            "a service client reports events with an admin's key. A key acts with its owner's "
            "role, so any other caller, a plain user's key included, gets 403 "
            "`permission_denied`. The caller (the API key's owner) is the actor; the request "
            "id, client address and user agent are taken from this request. Agora's own "
            "actions (`user.*` events it records, `post.created`, `audit.redacted` …) are "
            "refused, so they cannot be forged."
        ),
        request=AuditEventInputSerializer,
        responses={201: AuditRecordOutputSerializer, **error_responses(400, 401, 403, 413, 415)},
        examples=[
            OpenApiExample(
                "Invoice paid",
                request_only=True,
                value={
                    "action": "invoice.paid",
                    "target_type": "invoice",
                    "target_id": "INV-2026-0042",
                    "changes": {"status": ["due", "paid"], "amount_eur": [None, "129.00"]},
                },
            ),
            RECORD_EXAMPLE,
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = AuditEventInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = services.audit_external_event_write(
            actor=request.user, **serializer.validated_data
        )
        # Read back: normally sealed by now (on commit), so `sequence` and `hash` are set.
        record = selectors.audit_record_get(record_id=record.pk) or record
        return Response(AuditRecordOutputSerializer(record).data, status=status.HTTP_201_CREATED)


def _record_or_404(record_id: str) -> AuditRecord:
    try:
        record = selectors.audit_record_get(record_id=uuid.UUID(record_id))
    except ValueError:
        record = None
    if record is None:
        raise NotFound()
    return record


class AuditRecordDetailView(APIView):
    permission_classes = [IsAuditAdmin]

    @extend_schema(
        tags=[TAG],
        parameters=[RECORD_ID],
        summary="One audit record (admin)",
        description="Redacted records still answer, with their content cleared.",
        responses={200: AuditRecordOutputSerializer, **error_responses(401, 403, 404)},
        examples=[RECORD_EXAMPLE],
    )
    def get(self, request: Request, record_id: str) -> Response:
        return Response(AuditRecordOutputSerializer(_record_or_404(record_id)).data)

    @extend_schema(
        tags=[TAG],
        parameters=[RECORD_ID],
        summary="Triage an audit record: status and note (admin)",
        description=WRITE_DESCRIPTION,
        request=AuditRecordUpdateInputSerializer,
        responses={
            200: AuditRecordOutputSerializer,
            **error_responses(400, 401, 403, 404, 413, 415),
        },
        examples=[UPDATE_EXAMPLE, RECORD_EXAMPLE],
    )
    def patch(self, request: Request, record_id: str) -> Response:
        return self._update(request, record_id, partial=True)

    @extend_schema(
        tags=[TAG],
        parameters=[RECORD_ID],
        summary="Replace the status and note of an audit record (admin)",
        description=f"Both fields are required. {WRITE_DESCRIPTION}",
        request=AuditRecordUpdateInputSerializer,
        responses={
            200: AuditRecordOutputSerializer,
            **error_responses(400, 401, 403, 404, 413, 415),
        },
        examples=[UPDATE_EXAMPLE, RECORD_EXAMPLE],
    )
    def put(self, request: Request, record_id: str) -> Response:
        return self._update(request, record_id, partial=False)

    @extend_schema(
        tags=[TAG],
        parameters=[RECORD_ID],
        summary="Redact an audit record (admin)",
        description=(
            "Clears `changes`, `ip`, `user_agent` and `note` for good and sets `redacted`. The "
            "record stays (GET still answers 200), the chain stays verifiable, and an "
            "`audit.redacted` record names who redacted it. Redacting again changes nothing."
        ),
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request: Request, record_id: str) -> Response:
        services.audit_record_redact(record=_record_or_404(record_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request: Request, record_id: str, *, partial: bool) -> Response:
        record = _record_or_404(record_id)
        serializer = AuditRecordUpdateInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        record = services.audit_record_update(
            record=record, actor=request.user, **serializer.validated_data
        )
        record = selectors.audit_record_get(record_id=record.pk) or record
        return Response(AuditRecordOutputSerializer(record).data)
