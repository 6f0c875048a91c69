"""`/api/v1/jobs/…`: create (one or a batch), list, read, cancel, download the result; the
dead letters and requeue for admins."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdmin
from config.api.idempotency.mixin import IdempotentMixin
from config.api.openapi import error_responses
from config.core.errors import ValidationFailed
from tasks import selectors, services
from tasks.exceptions import JobNotFound
from tasks.models import JobStatus
from tasks.representations import job_representation
from tasks.results import (
    FALLBACK_CONTENT_TYPE,
    RESULT_CONTENT_TYPES,
    result_content_type,
    result_storage,
)
from tasks.serializers import (
    JobBatchInputSerializer,
    JobBatchOutputSerializer,
    JobInputSerializer,
    JobListQuerySerializer,
    JobOutputSerializer,
)
from tasks.services.jobs import JobRequest

TAG = "jobs"
DEDUPE_RULE = (
    "An identical request (same kind, params and owner) while an earlier one is queued, "
    "running, or succeeded within JOB_DEDUPE_SECONDS (10 min) answers that job instead."
)


class JobListCreateView(IdempotentMixin, ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = JobOutputSerializer

    def get_queryset(self) -> Any:
        query = JobListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.job_list(
            actor=self.request.user,
            status=query.validated_data.get("status") or None,
            kind=query.validated_data.get("kind") or None,
            everyone=True,
        )

    @extend_schema(
        tags=[TAG],
        summary="Jobs: the caller's own, every job for an admin",
        description="Newest first; offset or cursor pages.",
        parameters=[
            OpenApiParameter("status", str, enum=JobStatus.values),
            OpenApiParameter("kind", str),
        ],
        responses={200: JobOutputSerializer(many=True), **error_responses(400, 401)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([job_representation(job) for job in page])

    @extend_schema(
        tags=[TAG],
        summary="Start a background job",
        description=(
            "Answers 202 with the queued job, even while the job queue's broker is down (the "
            "job starts once it is back). Progress is published to the WebSocket room "
            f"`job:<id>`. {DEDUPE_RULE}"
        ),
        request=JobInputSerializer,
        responses={202: JobOutputSerializer, **error_responses(400, 401, 413, 415, 503)},
    )
    def post(self, request: Request) -> Response:
        serializer = JobInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = services.job_create(actor=request.user, **serializer.validated_data)
        return Response(job_representation(job), status=status.HTTP_202_ACCEPTED)


class JobBatchView(IdempotentMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=[TAG],
        summary="Start several jobs, all or nothing",
        description=(
            "Up to 100 jobs; if any is invalid none is created and the errors are under "
            f'`details.jobs["<index>"]`. {DEDUPE_RULE}'
        ),
        request=JobBatchInputSerializer,
        responses={202: JobBatchOutputSerializer, **error_responses(400, 401, 413, 415, 503)},
    )
    def post(self, request: Request) -> Response:
        envelope = JobBatchInputSerializer(data=request.data)
        envelope.is_valid(raise_exception=True)
        requests: dict[int, JobRequest] = {}
        errors: dict[str, Any] = {}
        for index, item in enumerate(envelope.validated_data["jobs"]):
            serializer = JobInputSerializer(data=item)
            if serializer.is_valid():
                requests[index] = JobRequest(**serializer.validated_data)
            else:
                errors[str(index)] = serializer.errors
        if errors:
            errors.update(services.jobs_validate(actor=request.user, requests=requests))
            raise ValidationFailed({"jobs": dict(sorted(errors.items(), key=lambda e: int(e[0])))})
        jobs = services.jobs_create(actor=request.user, requests=list(requests.values()))
        body = {"results": [job_representation(job) for job in jobs]}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class JobDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=[TAG],
        summary="A job",
        description="Its owner's, or any for an admin; anyone else gets 404.",
        responses={200: JobOutputSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(actor=request.user, job_id=job_id)
        if job is None:
            raise JobNotFound()
        return Response(job_representation(job))


class JobCancelView(IdempotentMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=[TAG],
        summary="Cancel a job",
        description=(
            "A queued job never starts; a running one stops at its next step, and its status "
            "turns `cancelled` then. Cancelling a cancelled job changes nothing; one that "
            "already ended otherwise is a 409."
        ),
        request=None,
        responses={200: JobOutputSerializer, **error_responses(401, 404, 409)},
    )
    def post(self, request: Request, job_id: str) -> Response:
        job = services.job_cancel(actor=request.user, job_id=job_id)
        return Response(job_representation(job))


class JobResultView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=[TAG],
        summary="Download a job's result file",
        description=(
            "The owner only. Results are kept JOB_RESULT_TTL (7 days by default); after that "
            "this answers 410."
        ),
        responses={
            **{
                (200, content_type): OpenApiTypes.BINARY
                for content_type in (*RESULT_CONTENT_TYPES.values(), FALLBACK_CONTENT_TYPE)
            },
            **error_responses(401, 404, 410),
        },
    )
    def get(self, request: Request, job_id: str) -> FileResponse:
        job = selectors.job_result_file(actor=request.user, job_id=job_id)
        filename = PurePosixPath(job.result_file).name
        try:
            stream = result_storage().open(job.result_file, "rb")
        except FileNotFoundError:
            raise JobNotFound("This job's result file is missing.") from None
        response = FileResponse(
            stream,
            content_type=result_content_type(filename),
            as_attachment=True,
            filename=filename,
        )
        response["Cache-Control"] = "private"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response


class JobDeadLettersView(ListAPIView):
    permission_classes = [IsAdmin]
    serializer_class = JobOutputSerializer

    def get_queryset(self) -> Any:
        return selectors.job_dead_letters()

    @extend_schema(
        tags=[TAG],
        summary="Dead letters: jobs that used up their retries (admins)",
        description="Most recent first. `POST jobs/{id}/requeue` runs one again.",
        responses={200: JobOutputSerializer(many=True), **error_responses(400, 401, 403)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([job_representation(job) for job in page])


class JobRequeueView(IdempotentMixin, APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        tags=[TAG],
        summary="Run an ended job again (admins)",
        description=(
            "A dead, failed or cancelled job goes back to the queue with its attempts reset. "
            "One still queued or running is a 409."
        ),
        request=None,
        responses={202: JobOutputSerializer, **error_responses(401, 403, 404, 409)},
    )
    def post(self, request: Request, job_id: str) -> Response:
        job = services.job_requeue(actor=request.user, job_id=job_id)
        return Response(job_representation(job), status=status.HTTP_202_ACCEPTED)
