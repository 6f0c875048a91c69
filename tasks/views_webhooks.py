"""`/api/v1/webhooks/…`: a caller's webhook endpoints, their delivery log and test pings."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.idempotency.mixin import IdempotentMixin
from config.api.openapi import error_responses
from tasks import selectors
from tasks.exceptions import WebhookEndpointNotFound
from tasks.representations import (
    webhook_delivery_representation,
    webhook_endpoint_representation,
)
from tasks.serializers import (
    WebhookCreatedSerializer,
    WebhookCreateInputSerializer,
    WebhookDeliveryOutputSerializer,
    WebhookOutputSerializer,
    WebhookUpdateInputSerializer,
)
from tasks.services import webhooks as services

TAG = "webhooks"
OWNER_ONLY = "The caller's own endpoint; anyone else's (an admin's too) is a 404."


class WebhookListCreateView(IdempotentMixin, ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = WebhookOutputSerializer

    def get_queryset(self) -> Any:
        return selectors.webhook_endpoint_list(actor=self.request.user)

    @extend_schema(
        tags=[TAG],
        summary="The caller's webhook endpoints",
        description="Newest first; offset or cursor pages.",
        responses={200: WebhookOutputSerializer(many=True), **error_responses(400, 401)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(
            [webhook_endpoint_representation(endpoint) for endpoint in page]
        )

    @extend_schema(
        tags=[TAG],
        summary="Add a webhook endpoint",
        description=(
            "It receives the subscribed events about its owner's own content (their posts and "
            "the comments on them, their jobs and notifications); an admin's receives every "
            "event. Deliveries follow the Standard Webhooks specification (docs/webhooks.md). "
            "The secret is in this answer only."
        ),
        request=WebhookCreateInputSerializer,
        responses={201: WebhookCreatedSerializer, **error_responses(400, 401, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        serializer = WebhookCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.webhook_endpoint_create(
            actor=request.user, **serializer.validated_data
        )
        body = webhook_endpoint_representation(endpoint) | {"secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=[TAG],
        summary="A webhook endpoint",
        description=OWNER_ONLY,
        responses={200: WebhookOutputSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        endpoint = selectors.webhook_endpoint_get(actor=request.user, endpoint_id=endpoint_id)
        if endpoint is None:
            raise WebhookEndpointNotFound()
        return Response(webhook_endpoint_representation(endpoint))

    @extend_schema(
        tags=[TAG],
        summary="Change a webhook endpoint",
        description=(
            f"{OWNER_ONLY} Any of `url`, `events`, `secret` (rotates: the previous one keeps "
            "signing beside it for 24 h), `enabled` (`true` re-enables an endpoint disabled "
            "after days of failures)."
        ),
        request=WebhookUpdateInputSerializer,
        responses={200: WebhookOutputSerializer, **error_responses(400, 401, 404, 413, 415)},
    )
    def patch(self, request: Request, endpoint_id: str) -> Response:
        serializer = WebhookUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(
            actor=request.user, endpoint_id=endpoint_id, **serializer.validated_data
        )
        return Response(webhook_endpoint_representation(endpoint))

    @extend_schema(
        tags=[TAG],
        summary="Delete a webhook endpoint",
        description=f"{OWNER_ONLY} Its delivery log goes with it; nothing more is sent.",
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request: Request, endpoint_id: str) -> Response:
        services.webhook_endpoint_delete(actor=request.user, endpoint_id=endpoint_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveriesView(ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = WebhookDeliveryOutputSerializer

    def get_queryset(self) -> Any:
        endpoint = selectors.webhook_endpoint_get(
            actor=self.request.user, endpoint_id=self.kwargs["endpoint_id"]
        )
        if endpoint is None:
            raise WebhookEndpointNotFound()
        return selectors.webhook_delivery_list(endpoint=endpoint)

    @extend_schema(
        tags=[TAG],
        summary="A webhook endpoint's delivery log",
        description=(
            f"{OWNER_ONLY} Newest first. `pending` before the first attempt, then the last "
            "attempt's outcome (`succeeded`, or `failed` while retries remain), `dead` when "
            "they are spent: an admin requeues it with `POST jobs/{job}/requeue`."
        ),
        responses={
            200: WebhookDeliveryOutputSerializer(many=True),
            **error_responses(400, 401, 404),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(
            [webhook_delivery_representation(delivery) for delivery in page]
        )


class WebhookTestView(IdempotentMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=[TAG],
        summary="Send a test `ping` to a webhook endpoint",
        description=(
            f"{OWNER_ONLY} Queues a `ping` delivery (also to a disabled endpoint, to check a "
            "receiver before enabling it again) and answers 202 with it; its outcome shows in "
            "the delivery log."
        ),
        request=None,
        responses={202: WebhookDeliveryOutputSerializer, **error_responses(401, 404)},
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        delivery = services.webhook_ping(actor=request.user, endpoint_id=endpoint_id)
        return Response(webhook_delivery_representation(delivery), status=status.HTTP_202_ACCEPTED)
