"""Security headers and CORS on every response."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient


@pytest.mark.parametrize("path", ["/health", "/api/v1/missing", "/docs", "/"])
def test_security_headers_are_on_every_response(api_client: APIClient, path: str) -> None:
    response = api_client.get(path)

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp


@override_settings(SECURE_HSTS_SECONDS=31_536_000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
def test_hsts_is_sent_over_https_when_configured() -> None:
    from django.test import Client

    response = Client().get("/health", secure=True)

    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_no_cross_origin_is_allowed_by_default(api_client: APIClient) -> None:
    response = api_client.get("/health", HTTP_ORIGIN="https://evil.example")

    assert "Access-Control-Allow-Origin" not in response


@override_settings(CORS_ALLOWED_ORIGINS=["https://app.example.org"])
def test_a_configured_origin_is_allowed_and_sees_the_request_id(api_client: APIClient) -> None:
    response = api_client.options(
        "/api/v1/jobs",
        HTTP_ORIGIN="https://app.example.org",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type,idempotency-key",
    )

    assert response["Access-Control-Allow-Origin"] == "https://app.example.org"
    assert "idempotency-key" in response["Access-Control-Allow-Headers"]
    get = api_client.get("/health", HTTP_ORIGIN="https://app.example.org")
    assert "x-request-id" in get["Access-Control-Expose-Headers"].lower()


@override_settings(CORS_ALLOWED_ORIGINS=["https://app.example.org"])
def test_an_unlisted_origin_is_still_refused(api_client: APIClient) -> None:
    response = api_client.get("/health", HTTP_ORIGIN="https://app.example.org.evil.example")

    assert "Access-Control-Allow-Origin" not in response


@override_settings(DEBUG=True)
@pytest.mark.parametrize("path", ["/api/v1/missing", "/api/v1/posts/not-a-post", "/health/nope"])
def test_json_404s_carry_the_policy_with_debug_on(api_client: APIClient, path: str) -> None:
    response = api_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "default-src 'self'" in response["Content-Security-Policy"]


@override_settings(DEBUG=True)
def test_html_404s_carry_the_policy_with_debug_on(api_client: APIClient) -> None:
    response = api_client.get("/no-such-page")

    assert response.status_code == 404
    assert "default-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.urls("tests.config.urls_failing")
@override_settings(DEBUG=True)
def test_the_json_500_envelope_carries_the_policy_with_debug_on(api_client: APIClient) -> None:
    api_client.raise_request_exception = False

    response = api_client.get("/api/v1/failing")

    assert response.status_code == 500
    assert "default-src 'self'" in response["Content-Security-Policy"]
