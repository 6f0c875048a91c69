"""`/api/v1/users/…`: own profile, public profiles, and the admin's user management."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiExample, PolymorphicProxySerializer, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.models import User, is_admin
from accounts.permissions import IsAdmin
from accounts.serializers import (
    AdminUserUpdateInputSerializer,
    ProfileUpdateInputSerializer,
    PublicUserOutputSerializer,
    UserOutputSerializer,
)
from config.api.openapi import error_responses

TAG = "users"


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=[TAG],
        summary="The caller's own profile",
        responses={200: UserOutputSerializer, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        return Response(UserOutputSerializer(request.user).data)

    @extend_schema(
        tags=[TAG],
        summary="Edit the caller's own profile",
        description="`display_name` and `bio`. Other fields (`role`, `is_staff` …) are ignored.",
        request=ProfileUpdateInputSerializer,
        responses={200: UserOutputSerializer, **error_responses(400, 401, 413, 415)},
        examples=[
            OpenApiExample(
                "Profile",
                request_only=True,
                value={"display_name": "Seán O'Brien", "bio": "Grüße aus Köln 🌍"},
            )
        ],
    )
    def patch(self, request: Request) -> Response:
        serializer = ProfileUpdateInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_profile_update(user=request.user, **serializer.validated_data)
        return Response(UserOutputSerializer(user).data)


def _uuid_or_404(user_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(user_id)
    except ValueError:
        raise NotFound() from None


def _user_or_404(user_id: str) -> User:
    user = selectors.user_get(user_id=_uuid_or_404(user_id))
    if user is None:
        raise NotFound()
    return user


class UserDetailView(APIView):
    def get_permissions(self) -> list:
        return [AllowAny()] if self.request.method == "GET" else [IsAdmin()]

    @extend_schema(
        tags=[TAG],
        summary="A user's profile",
        description=(
            "Public fields (`PublicUserOutput`) to anyone; the whole profile (`UserOutput`, "
            "with `email`, `role` and the rest) to the user themself and to admins."
        ),
        responses={
            200: PolymorphicProxySerializer(
                component_name="UserProfile",
                serializers=[UserOutputSerializer, PublicUserOutputSerializer],
                resource_type_field_name=None,
            ),
            **error_responses(404),
        },
    )
    def get(self, request: Request, user_id: str) -> Response:
        viewer = request.user
        target = _uuid_or_404(user_id)
        if viewer.is_authenticated and (viewer.pk == target or is_admin(viewer)):
            return Response(UserOutputSerializer(_user_or_404(user_id)).data)
        profile, hit = selectors.user_public_profile(user_id=target)
        if profile is None:
            raise NotFound()
        return Response(profile, headers={"X-Cache": "hit" if hit else "miss"})

    @extend_schema(
        tags=[TAG],
        summary="Change a user's role or activation (admin)",
        description=(
            "Effective on the user's next request. Deactivation ends every login and closes "
            "their WebSocket connections. Admins cannot demote or deactivate themselves."
        ),
        request=AdminUserUpdateInputSerializer,
        responses={200: UserOutputSerializer, **error_responses(400, 401, 403, 404)},
        examples=[OpenApiExample("Promote", request_only=True, value={"role": "admin"})],
    )
    def patch(self, request: Request, user_id: str) -> Response:
        user = _user_or_404(user_id)
        serializer = AdminUserUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_update_by_admin(
            actor=request.user, user=user, **serializer.validated_data
        )
        return Response(UserOutputSerializer(user).data)


@extend_schema(
    tags=[TAG],
    summary="List users (admin)",
    responses={200: UserOutputSerializer(many=True), **error_responses(400, 401, 403)},
)
class UserListView(ListAPIView):
    permission_classes = [IsAdmin]
    serializer_class = UserOutputSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.user_list()
