"""`/api/v1/uploads/…`: upload a file (multipart), list one's own, read one, its bytes and its
thumbnails, delete it."""

from __future__ import annotations

import logging
from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import IsMember
from config.api.idempotency.mixin import IdempotentMixin
from config.api.openapi import error_responses
from config.api.ordering import StrictOrderingFilter
from config.api.parsers import MultiPartParser
from content import selectors, services
from content.images import THUMBNAIL_CONTENT_TYPE, THUMBNAIL_EXTENSION
from content.models import THUMBNAIL_SIZES, Upload, UploadKind
from content.representations import upload_representation
from content.serializers import UploadInputSerializer, UploadOutputSerializer
from content.sniffing import ALLOWED_TYPES
from content.views.common import found

logger = logging.getLogger("agora.content")

TAG = "uploads"
READ_RULE = (
    "Readable by its owner and admins, and by anyone once it is attached to a post they can "
    "read; anyone else gets 404."
)
# Stored bytes are the client's: never let a browser run them. Images may show in a tab;
# documents are downloads, sandboxed should a browser open them anyway.
IMAGE_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
DOCUMENT_POLICY = "default-src 'none'; sandbox"
SIZE_PARAMETER = OpenApiParameter(
    "size",
    str,
    OpenApiParameter.PATH,
    enum=[str(size) for size in THUMBNAIL_SIZES],
    description="Longest side in pixels.",
)


@extend_schema_view(
    list=extend_schema(
        tags=[TAG],
        summary="The caller's own uploads",
        description=(
            "Newest first (`ordering`: `created_at`, `size`, `name`); offset or cursor pages. "
            "Admins too see only their own here."
        ),
        responses={200: UploadOutputSerializer(many=True), **error_responses(400, 401)},
    ),
    retrieve=extend_schema(
        tags=[TAG],
        summary="An upload",
        description=READ_RULE,
        responses={200: UploadOutputSerializer, **error_responses(404)},
    ),
    create=extend_schema(
        tags=[TAG],
        summary="Upload a file",
        description=(
            "Multipart form with the file in field `file`. Accepted: JPEG, PNG, WebP and GIF "
            "images, PDF documents and plain UTF-8 text, recognised by their bytes, never by "
            "name or declared type; anything else is a 415. A file over UPLOAD_MAX_BYTES "
            "(default 10 MiB) is a 413, checked before anything else. Images over 40 "
            "megapixels, truncated or undecodable are a 400 on `file`. Thumbnails of an image "
            "are made in the background and appear in `thumbnails` when ready."
        ),
        request={"multipart/form-data": UploadInputSerializer},
        responses={201: UploadOutputSerializer, **error_responses(400, 401, 403, 413, 415)},
    ),
    destroy=extend_schema(
        tags=[TAG],
        summary="Delete an upload (owner or admin)",
        description=(
            "The upload leaves every post it was attached to; its bytes and thumbnails are deleted."
        ),
        responses={204: None, **error_responses(401, 403, 404)},
    ),
)
class UploadViewSet(IdempotentMixin, viewsets.GenericViewSet):
    permission_classes = [IsMember]
    parser_classes = [MultiPartParser]
    serializer_class = UploadOutputSerializer
    filter_backends = [StrictOrderingFilter]
    ordering_fields = ["created_at", "size", "name"]
    ordering = ["-created_at"]
    lookup_value_regex = "[^/]+"

    def get_permissions(self) -> list[BasePermission]:
        if self.action == "list":
            return [IsAuthenticated()]
        return super().get_permissions()

    def get_queryset(self) -> Any:
        return selectors.upload_list(actor=self.request.user)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([upload_representation(u) for u in page])

    def create(self, request: Request) -> Response:
        serializer = UploadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        file = serializer.validated_data["file"]
        upload = services.upload_create(actor=request.user, name=file.name, data=file)
        return Response(upload_representation(upload), status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(upload_representation(self._readable(pk)))

    def destroy(self, request: Request, pk: str) -> Response:
        services.upload_delete(actor=request.user, upload_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=[TAG],
        summary="The bytes of an upload",
        description=(
            f"{READ_RULE} Served with the stored content type, `X-Content-Type-Options: "
            "nosniff` and a sandboxing Content-Security-Policy; images `inline`, documents as "
            "an `attachment`, named after the upload."
        ),
        responses={
            **{(200, media_type): OpenApiTypes.BINARY for media_type in sorted(ALLOWED_TYPES)},
            **error_responses(404),
        },
    )
    @action(detail=True, methods=["get"], url_path="content", pagination_class=None)
    def content(self, request: Request, pk: str) -> FileResponse:
        upload = self._readable(pk)
        return _file_response(
            upload,
            upload.file.name,
            content_type=upload.content_type,
            filename=upload.name,
            inline=upload.kind == UploadKind.IMAGE,
        )

    @extend_schema(
        tags=[TAG],
        summary="A thumbnail of an image upload",
        description=(
            f"{READ_RULE} A WebP image at most `size` pixels on its longest side; 404 until it "
            "is made (see the upload's `thumbnails`)."
        ),
        parameters=[SIZE_PARAMETER],
        responses={(200, THUMBNAIL_CONTENT_TYPE): OpenApiTypes.BINARY, **error_responses(404)},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"thumbnails/(?P<size>[^/]+)",
        pagination_class=None,
    )
    def thumbnail(self, request: Request, pk: str, size: str) -> FileResponse:
        upload = self._readable(pk)
        name = found(upload.thumbnails.get(size))
        stem = upload.name.rsplit(".", 1)[0] if "." in upload.name[1:] else upload.name
        return _file_response(
            upload,
            name,
            content_type=THUMBNAIL_CONTENT_TYPE,
            filename=f"{stem}-{size}{THUMBNAIL_EXTENSION}",
            inline=True,
        )

    def _readable(self, pk: str) -> Upload:
        return found(selectors.upload_get(actor=self.request.user, upload_id=pk))


def _file_response(
    upload: Upload, name: str, *, content_type: str, filename: str, inline: bool
) -> FileResponse:
    """Stream a stored file; Django's FileResponse writes a Content-Disposition any client can
    read (`filename*` in UTF-8 for names beyond ASCII)."""
    try:
        stream = default_storage.open(name, "rb")
    except FileNotFoundError:
        logger.error(
            "stored file missing", extra={"upload_id": str(upload.pk), "storage_name": name}
        )
        raise NotFound() from None
    response = FileResponse(
        stream, content_type=content_type, as_attachment=not inline, filename=filename
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = IMAGE_POLICY if inline else DOCUMENT_POLICY
    response["Cache-Control"] = "private"
    return response
