"""`/api/v1/notifications`: the caller's notifications, and marking them read.

Every account has notifications, a guest's too (their jobs finish like anyone's): both
operations take any authenticated caller, by token, API key or session, and only ever touch
the caller's own.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.idempotency.mixin import IdempotentMixin
from config.api.openapi import error_responses
from realtime import selectors, services
from realtime.representations import notification_representation
from realtime.serializers import (
    NotificationListQuerySerializer,
    NotificationOutputSerializer,
    NotificationReadInputSerializer,
    NotificationReadOutputSerializer,
)

TAG = "notifications"


class NotificationListView(ListAPIView):
    serializer_class = NotificationOutputSerializer

    def get_queryset(self) -> Any:
        query = NotificationListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.notification_list(
            actor=self.request.user, unread=query.validated_data["unread"]
        )

    @extend_schema(
        tags=[TAG],
        summary="The caller's notifications",
        description=(
            "Newest first; kept 30 days. Offset pagination, or cursor pagination with "
            "`?cursor=` or `?pagination=cursor`. Each one is also pushed as a `notification` "
            "event to the WebSocket room `user:<id>`, with the same object as `data`."
        ),
        parameters=[
            OpenApiParameter(
                "unread",
                bool,
                description="`true`: only unread notifications; `false`: only read ones.",
            )
        ],
        responses={200: NotificationOutputSerializer(many=True), **error_responses(400, 401)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([notification_representation(n) for n in page])


class NotificationReadView(IdempotentMixin, APIView):
    @extend_schema(
        tags=[TAG],
        summary="Mark the caller's notifications read",
        description=(
            'Exactly one of `ids` (up to 500) or `"all": true`. `updated` counts those that '
            "went from unread to read: ids of others' notifications, unknown ids and "
            "notifications already read count nothing and are not an error."
        ),
        request=NotificationReadInputSerializer,
        responses={200: NotificationReadOutputSerializer, **error_responses(400, 401)},
        examples=[
            OpenApiExample(
                "Some", request_only=True, value={"ids": ["01939a2c-6b1e-7c3d-9f00-5a114e146b94"]}
            ),
            OpenApiExample("All", request_only=True, value={"all": True}),
            OpenApiExample("Answer", response_only=True, value={"updated": 1}),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = NotificationReadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        updated = services.notifications_mark_read(
            actor=request.user,
            ids=serializer.validated_data.get("ids"),
            all=serializer.validated_data.get("all", False),
        )
        return Response(NotificationReadOutputSerializer({"updated": updated}).data)
