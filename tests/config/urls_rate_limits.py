"""The real URLconf plus a public view throttled the way the auth endpoints are."""

from django.urls import re_path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.throttles import AuthRateThrottle, RoleRateThrottle
from config.urls import urlpatterns as real_urlpatterns

AUTH_SCOPED_PATH = "/api/v1/test/auth-scoped"


class AuthScopedView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthRateThrottle, RoleRateThrottle]

    def post(self, request: Request) -> Response:
        return Response({"status": "ok"})


urlpatterns = [
    re_path(r"^api/v1/test/auth-scoped/?$", AuthScopedView.as_view()),
    *real_urlpatterns,
]
