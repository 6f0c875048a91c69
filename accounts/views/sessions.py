"""`/api/v1/auth/sessions`: the caller's live logins, each one endable on its own."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.authentication import session_id_of
from accounts.serializers import LoginSessionOutputSerializer
from config.api.openapi import error_responses

TAG = "auth"


@extend_schema(
    tags=[TAG],
    summary="The caller's live logins",
    description="One per device or browser that logged in; `current` marks this request's.",
    responses={200: LoginSessionOutputSerializer(many=True), **error_responses(400, 401)},
)
class LoginSessionListView(ListAPIView):
    serializer_class = LoginSessionOutputSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.login_session_list(user=self.request.user)

    def get_serializer_context(self) -> dict:
        return {
            **super().get_serializer_context(),
            "current_session_id": session_id_of(self.request),
        }


class LoginSessionDetailView(APIView):
    @extend_schema(
        tags=[TAG],
        summary="End one of the caller's logins",
        description="Its tokens stop working and its WebSocket connections close with 4401.",
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request: Request, session_id: str) -> Response:
        try:
            session = selectors.login_session_get(
                user=request.user, session_id=uuid.UUID(session_id)
            )
        except ValueError:
            session = None
        if session is None:
            raise NotFound()
        services.login_session_revoke(session=session)
        return Response(status=status.HTTP_204_NO_CONTENT)
