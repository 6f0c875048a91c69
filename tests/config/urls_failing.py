"""The real URLconf plus views that fail, to test the 500 envelope."""

from django.db import connection
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


def _query_a_missing_table() -> None:
    # A bug in our own SQL: SQLite raises OperationalError for it, PostgreSQL ProgrammingError.
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM agora_no_such_table")


class BadQueryApiView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> HttpResponse:
        _query_a_missing_table()
        return HttpResponse()


def bad_query_plain_view(request: HttpRequest) -> HttpResponse:
    _query_a_missing_table()
    return HttpResponse()


urlpatterns = [
    path("api/v1/failing", FailingApiView.as_view()),
    path("health/failing", failing_plain_view),
    path("api/v1/bad-query", BadQueryApiView.as_view()),
    path("health/bad-query", bad_query_plain_view),
    *real_urlpatterns,
]
