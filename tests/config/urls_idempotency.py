"""The real URLconf plus small POST views that take `Idempotency-Key`."""

import threading
import uuid

from django.urls import re_path
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from config.api.idempotency.mixin import IdempotentMixin
from config.core.errors import ServiceUnavailable
from config.urls import urlpatterns as real_urlpatterns

CREATE_PATH = "/api/v1/test/idempotent-users"
ANONYMOUS_CREATE_PATH = "/api/v1/test/anonymous-idempotent-users"
BLOCKING_CREATE_PATH = "/api/v1/test/blocking-idempotent-users"
CRASHING_PATH = "/api/v1/test/crashing"
UNAVAILABLE_PATH = "/api/v1/test/unavailable"

# The blocking view waits for this before it answers; tests set it.
RELEASE = threading.Event()
# How many more calls of the failing views fail.
FAILURES = {"left": 0}


def create_user(request: Request, suffix: str = "") -> Response:
    username = request.data.get("username")
    if not username:
        raise ValidationError({"username": ["This field is required."]})
    user = User.objects.create(username=f"{username}{suffix}", email=f"{username}@example.org")
    response = Response(
        {"id": str(user.pk), "username": user.username},
        status=status.HTTP_201_CREATED,
        headers={"Location": f"/api/v1/users/{user.pk}"},
    )
    response.set_cookie("seen", "1")
    return response


class CreateUserView(IdempotentMixin, APIView):
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})

    def post(self, request: Request) -> Response:
        return create_user(request)


class AnonymousCreateUserView(IdempotentMixin, APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        return create_user(request)


class BlockingCreateUserView(IdempotentMixin, APIView):
    def post(self, request: Request) -> Response:
        response = create_user(request, suffix=f"-{uuid.uuid4().hex[:8]}")
        RELEASE.wait(timeout=10)
        return response


class CrashingView(IdempotentMixin, APIView):
    def post(self, request: Request) -> Response:
        if FAILURES["left"] > 0:
            FAILURES["left"] -= 1
            raise RuntimeError("boom")
        return create_user(request)


class UnavailableView(IdempotentMixin, APIView):
    def post(self, request: Request) -> Response:
        if FAILURES["left"] > 0:
            FAILURES["left"] -= 1
            raise ServiceUnavailable()
        return create_user(request)


urlpatterns = [
    re_path(r"^api/v1/test/idempotent-users/?$", CreateUserView.as_view()),
    re_path(r"^api/v1/test/anonymous-idempotent-users/?$", AnonymousCreateUserView.as_view()),
    re_path(r"^api/v1/test/blocking-idempotent-users/?$", BlockingCreateUserView.as_view()),
    re_path(r"^api/v1/test/crashing/?$", CrashingView.as_view()),
    re_path(r"^api/v1/test/unavailable/?$", UnavailableView.as_view()),
    *real_urlpatterns,
]
