"""The real URLconf plus views that fail, to test the 500 envelope."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from config.urls import urlpatterns as real_urlpatterns

SECRET_IN_ERROR = "password=hunter2 at postgres://db.internal"


class FailingApiView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> HttpResponse:
        raise RuntimeError(SECRET_IN_ERROR)


def failing_plain_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SECRET_IN_ERROR)


urlpatterns = [
    path("api/v1/failing", FailingApiView.as_view()),
    path("health/failing", failing_plain_view),
    *real_urlpatterns,
]
