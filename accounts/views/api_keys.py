"""`/api/v1/auth/api-keys`: a user's keys for service clients."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.models import ApiKey
from accounts.permissions import IsMember
from accounts.serializers import (
    ApiKeyCreatedOutputSerializer,
    ApiKeyInputSerializer,
    ApiKeyOutputSerializer,
)
from config.api.idempotency.mixin import IdempotentMixin
from config.api.openapi import error_responses

TAG = "api keys"


def _refuse_key_management_by_key(request: Request) -> None:
    """A leaked key must not be able to mint or revoke keys: that takes a login."""
    if isinstance(request.auth, ApiKey):
        raise PermissionDenied("API keys cannot manage API keys; log in instead.")


class ApiKeyListCreateView(IdempotentMixin, ListAPIView):
    # IsMember alone lets any read through (it guards content, which anyone may read).
    permission_classes = [IsAuthenticated, IsMember]
    # The secret is never stored: a replay names the key that was made, with `key` null.
    idempotency_redacted_fields = ("key",)
    serializer_class = ApiKeyOutputSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.api_key_list(user=self.request.user)

    @extend_schema(
        tags=[TAG],
        summary="The caller's API keys (no secrets)",
        responses={200: ApiKeyOutputSerializer(many=True), **error_responses(400, 401, 403)},
    )
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        _refuse_key_management_by_key(request)
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=[TAG],
        summary="Create an API key",
        description=(
            "The secret is in `key`, this once; only a hash is stored. Send it as "
            "`X-API-Key`; it acts as you, with your role. A replay for a repeated "
            "`Idempotency-Key` has `key: null`: revoke that key if its secret was lost."
        ),
        request=ApiKeyInputSerializer,
        responses={201: ApiKeyCreatedOutputSerializer, **error_responses(400, 401, 403)},
        examples=[OpenApiExample("Name", request_only=True, value={"name": "Nightly export"})],
    )
    def post(self, request: Request) -> Response:
        _refuse_key_management_by_key(request)
        serializer = ApiKeyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, secret = services.api_key_create(
            user=request.user, name=serializer.validated_data["name"]
        )
        key.key = secret  # type: ignore[attr-defined]
        return Response(ApiKeyCreatedOutputSerializer(key).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    @extend_schema(
        tags=[TAG],
        summary="Revoke one of the caller's API keys",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request: Request, key_id: str) -> Response:
        _refuse_key_management_by_key(request)
        try:
            key = selectors.api_key_get(user=request.user, key_id=uuid.UUID(key_id))
        except ValueError:
            key = None
        if key is None:
            raise NotFound()
        services.api_key_revoke(key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)
