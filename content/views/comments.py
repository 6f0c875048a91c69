"""`/api/v1/comments/…`: every readable comment, and edits by their author or an admin.

New comments are posted to `posts/{id}/comments`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import IsMember
from config.api.idempotency.mixin import IdempotentMixin
from config.api.openapi import error_responses
from config.api.ordering import StrictOrderingFilter
from content import selectors, services
from content.filters import CommentFilterSet, FilterBackend
from content.models import Comment
from content.representations import comment_representation
from content.serializers import (
    CommentOutputSerializer,
    CommentUpdateInputSerializer,
)
from content.views.common import found

TAG = "comments"


@extend_schema_view(
    list=extend_schema(
        tags=[TAG],
        summary="List comments",
        description="Live comments on posts the caller may read; filter by post, author, parent.",
        responses={200: CommentOutputSerializer(many=True), **error_responses(400)},
    ),
    retrieve=extend_schema(
        tags=[TAG],
        summary="A comment",
        responses={200: CommentOutputSerializer, **error_responses(404)},
    ),
    update=extend_schema(
        tags=[TAG],
        summary="Edit a comment (author or admin)",
        request=CommentUpdateInputSerializer,
        responses={200: CommentOutputSerializer, **error_responses(400, 401, 403, 404, 413, 415)},
    ),
    partial_update=extend_schema(
        tags=[TAG],
        summary="Edit a comment (author or admin)",
        request=CommentUpdateInputSerializer,
        responses={200: CommentOutputSerializer, **error_responses(400, 401, 403, 404, 413, 415)},
    ),
    destroy=extend_schema(
        tags=[TAG],
        summary="Soft-delete a comment (author or admin)",
        responses={204: None, **error_responses(401, 403, 404)},
    ),
)
class CommentViewSet(IdempotentMixin, viewsets.GenericViewSet):
    permission_classes = [IsMember]
    serializer_class = CommentOutputSerializer
    filter_backends = [FilterBackend, StrictOrderingFilter]
    filterset_class = CommentFilterSet
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> Any:
        return selectors.comment_list(actor=self.request.user)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([comment_representation(c) for c in page])

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(comment_representation(self._visible_comment(pk)))

    def update(self, request: Request, pk: str) -> Response:
        return self._update(request, pk)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self._update(request, pk)

    def _update(self, request: Request, pk: str) -> Response:
        comment = self._visible_comment(pk)
        serializer = CommentUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = services.comment_update(
            actor=request.user, comment=comment, body=serializer.validated_data["body"]
        )
        return Response(comment_representation(comment))

    def destroy(self, request: Request, pk: str) -> Response:
        services.comment_delete(actor=request.user, comment=self._visible_comment(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=[TAG],
        summary="Restore a soft-deleted comment (author or admin)",
        request=None,
        responses={200: CommentOutputSerializer, **error_responses(401, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str) -> Response:
        comment = found(
            selectors.comment_get(actor=request.user, comment_id=pk, include_deleted=True)
        )
        comment = services.comment_restore(actor=request.user, comment=comment)
        return Response(comment_representation(comment))

    def _visible_comment(self, pk: str) -> Comment:
        return found(selectors.comment_get(actor=self.request.user, comment_id=pk))
