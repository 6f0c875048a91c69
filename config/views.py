"""Root, health and catch-all views: the operational surface of API.md "Operations"."""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config import health
from config.http.envelope import error_body, error_response

STARTED_AT = time.monotonic()

_check = inline_serializer(
    "ComponentCheck",
    {
        "status": serializers.ChoiceField(choices=["ok", "fail"]),
        "latency_ms": serializers.FloatField(),
        "reason": serializers.CharField(required=False),
    },
)


class PublicView(APIView):
    # No credentials are read: probes and the index must answer even when auth breaks.

    authentication_classes: list = []
    permission_classes = [AllowAny]


class ProbeView(PublicView):
    # Never rate limited: an orchestrator polling many instances from one address must not get a
    # 429 and take it for an outage.

    throttle_classes: list = []


class RootView(PublicView):
    """Name, version and where to find the docs, the schema, the health probes and the pages."""

    @extend_schema(
        tags=["operations"],
        summary="API index",
        responses=inline_serializer(
            "ApiIndex",
            {
                "name": serializers.CharField(),
                "version": serializers.CharField(),
                "api": serializers.CharField(),
                "docs": serializers.CharField(),
                "redoc": serializers.CharField(),
                "schema": serializers.CharField(),
                "health": serializers.CharField(),
                "admin": serializers.CharField(),
                "live": serializers.CharField(),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        from django.conf import settings

        return Response(
            {
                "name": "Agora",
                "version": settings.AGORA_VERSION,
                "api": "/api/v1/",
                "docs": "/docs",
                "redoc": "/redoc",
                "schema": "/api/schema/",
                "health": "/health",
                "admin": "/admin/",
                "live": "/live/",
            }
        )


class HealthView(ProbeView):
    """Liveness: 200 while the process serves requests; checks no dependency."""

    @extend_schema(
        tags=["operations"],
        summary="Liveness",
        responses=inline_serializer(
            "Liveness",
            {
                "status": serializers.CharField(),
                "version": serializers.CharField(),
                "uptime_seconds": serializers.FloatField(),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        from django.conf import settings

        return Response(
            {
                "status": "ok",
                "version": settings.AGORA_VERSION,
                "uptime_seconds": round(time.monotonic() - STARTED_AT, 3),
            }
        )


class HealthDatabaseView(ProbeView):
    """Runs `SELECT 1`; reports latency and, on PostgreSQL, the connection pool's figures."""

    @extend_schema(
        tags=["operations"],
        summary="Database probe",
        description="503 when the database does not answer.",
        responses={
            200: inline_serializer(
                "DatabaseHealth",
                {
                    "status": serializers.ChoiceField(choices=["ok", "fail"]),
                    "vendor": serializers.CharField(),
                    "latency_ms": serializers.FloatField(),
                    "pool": serializers.DictField(allow_null=True),
                },
            ),
            503: OpenApiResponse(
                description="The database is down: the probe's fields plus the error envelope."
            ),
        },
    )
    def get(self, request: Request) -> Response:
        result = health.check_database()
        if result["status"] == "ok":
            return Response(result)
        return _unavailable(result, "The database is not answering.", {"failed": ["database"]})


class HealthReadyView(ProbeView):
    """Readiness of the database, cache, channel layer and broker."""

    @extend_schema(
        tags=["operations"],
        summary="Readiness",
        description="Database, cache, channel layer and broker; 503 if any of them is down.",
        responses={
            200: inline_serializer(
                "Readiness",
                {
                    "status": serializers.ChoiceField(choices=["ok", "fail"]),
                    "checks": serializers.DictField(child=_check),
                },
            ),
            503: OpenApiResponse(
                description="A component is down: the checks plus the error envelope, whose "
                "`details.failed` names the failed components."
            ),
        },
    )
    def get(self, request: Request) -> Response:
        checks = health.readiness()
        failed = [name for name, check in checks.items() if check["status"] != "ok"]
        if not failed:
            return Response({"status": "ok", "checks": checks})
        return _unavailable(
            {"status": "fail", "checks": checks},
            f"Not ready: {', '.join(failed)} down.",
            {"failed": failed},
        )


def _unavailable(body: dict[str, Any], message: str, details: dict[str, Any]) -> Response:
    """A 503 that is both the probe's body and the contract's error envelope."""
    response = Response({**body, **error_body("service_unavailable", message, details)}, status=503)
    # The probe logged what failed; Django would add an ERROR line per poll of a load balancer.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


@csrf_exempt
def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """Unknown paths under /api/ and /health answer the envelope, whatever DEBUG says, and
    whatever the method: a POST with a session cookie is still a 404, not a CSRF refusal."""
    return error_response(404, "not_found", "No such resource.")
