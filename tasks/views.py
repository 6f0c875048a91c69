from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.idempotency.mixin import IdempotentMixin
from config.api.openapi import error_responses
from tasks.serializers import DemoJobInputSerializer, DemoJobOutputSerializer
from tasks.services import demo_job_start


class DemoJobView(IdempotentMixin, APIView):
    """Start the demo background job; its result arrives on the caller's WebSocket."""

    @extend_schema(
        tags=["jobs"],
        summary="Run the demo background job",
        description=(
            "Queues a small job on the worker. When it finishes, a `demo.finished` event with "
            "the result is pushed to the caller's `user:<id>` WebSocket room."
        ),
        request=DemoJobInputSerializer,
        responses={202: DemoJobOutputSerializer, **error_responses(400, 401, 413, 415, 503)},
        examples=[OpenApiExample("Message", value={"message": "Grüß Gott, 李雷!"})],
    )
    def post(self, request: Request) -> Response:
        serializer = DemoJobInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job_id = demo_job_start(actor=request.user, message=serializer.validated_data["message"])
        body = {"job_id": job_id, "status": "queued", "room": f"user:{request.user.pk}"}
        return Response(DemoJobOutputSerializer(body).data, status=status.HTTP_202_ACCEPTED)
