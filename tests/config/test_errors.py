"""Every error under /api/ and /health is the JSON envelope of API.md, never HTML."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from channels.testing import HttpCommunicator
from django.test import override_settings
from rest_framework.test import APIClient

from config.asgi import application
from tests.config.urls_failing import SECRET_IN_ERROR


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert isinstance(error["details"], dict)
    assert error["request_id"] == response["X-Request-ID"]
    return error


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/no-such-thing"),
        ("post", "/api/v1/no-such-thing/"),
        ("delete", "/api"),
        ("get", "/health/nope"),
        ("put", "/api/v2/anything"),
    ],
)
def test_unknown_api_path_is_a_json_404(api_client: APIClient, method: str, path: str) -> None:
    assert_envelope(getattr(api_client, method)(path), 404, "not_found")


@override_settings(DEBUG=True)
def test_unknown_api_path_is_json_even_in_debug(api_client: APIClient) -> None:
    assert_envelope(api_client.get("/api/v1/missing"), 404, "not_found")


def test_unknown_page_outside_the_api_stays_html(api_client: APIClient) -> None:
    response = api_client.get("/not-an-api-page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/health", "/health/ready/"])
def test_wrong_method_is_a_json_405(api_client: APIClient, path: str) -> None:
    assert_envelope(api_client.post(path, {}), 405, "method_not_allowed")


@pytest.mark.urls("tests.config.urls_failing")
@pytest.mark.parametrize("path", ["/api/v1/failing", "/health/failing"])
def test_unhandled_error_is_a_500_with_only_the_request_id(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = APIClient(raise_request_exception=False)
    with caplog.at_level(logging.ERROR, logger="agora.errors"):
        response = client.get(path, HTTP_X_REQUEST_ID="trace-500")

    error = assert_envelope(response, 500, "internal_error")
    assert error["request_id"] == "trace-500"
    assert error["details"] == {}
    assert SECRET_IN_ERROR not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    [record] = [r for r in caplog.records if r.name == "agora.errors"]
    assert record.request_id == "trace-500"
    assert record.exc_info is not None
    assert SECRET_IN_ERROR in str(record.exc_info[1])


@pytest.mark.urls("tests.config.urls_failing")
@override_settings(DEBUG=True)
def test_unhandled_error_is_json_even_in_debug() -> None:
    client = APIClient(raise_request_exception=False)

    assert_envelope(client.get("/api/v1/failing"), 500, "internal_error")


def test_anonymous_write_is_a_401_with_a_bearer_challenge(api_client: APIClient) -> None:
    response = api_client.post("/api/v1/jobs", {"message": "hi"}, format="json")

    assert_envelope(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_garbage_bearer_token_is_token_invalid(api_client: APIClient) -> None:
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")

    assert_envelope(api_client.post("/api/v1/jobs", {}, format="json"), 401, "token_invalid")


@pytest.mark.parametrize(
    "body", [b'{"message": ', b"not json at all", b'{"message": NaN}', b"\xff\xfe"]
)
def test_malformed_json_is_malformed_request(user_client: APIClient, body: bytes) -> None:
    response = user_client.post("/api/v1/jobs", body, content_type="application/json")

    assert_envelope(response, 400, "malformed_request")


def test_invalid_field_is_a_validation_error_with_details(user_client: APIClient) -> None:
    response = user_client.post("/api/v1/jobs", {"kind": ""}, format="json")

    error = assert_envelope(response, 400, "validation_error")
    assert list(error["details"]) == ["kind"]


@pytest.mark.parametrize("body", [b"[1, 2]", b"[]", b'"a"', b"42", b"null", b"true"])
def test_valid_json_that_is_not_an_object_is_malformed_request(
    user_client: APIClient, body: bytes
) -> None:
    response = user_client.post("/api/v1/jobs", body, content_type="application/json")

    error = assert_envelope(response, 400, "malformed_request")
    assert "JSON object" in error["message"]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=bz2_codec",
        "application/json; charset=base64_codec",
        "application/x-www-form-urlencoded; charset=zlib_codec",
    ],
)
def test_a_charset_that_is_not_a_text_encoding_is_a_415(
    user_client: APIClient, content_type: str
) -> None:
    response = user_client.post("/api/v1/jobs", b'{"message": "hi"}', content_type=content_type)

    error = assert_envelope(response, 415, "unsupported_media_type")
    assert "charset" in error["message"]


def test_an_unknown_charset_name_falls_back_to_utf8(user_client: APIClient) -> None:
    response = user_client.post(
        "/api/v1/jobs", b'{"kind": "noop"}', content_type="application/json; charset=nope"
    )

    assert response.status_code == 202


def test_unsupported_content_type_is_a_415(user_client: APIClient) -> None:
    response = user_client.post("/api/v1/jobs", "message", content_type="text/plain")

    assert_envelope(response, 415, "unsupported_media_type")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_json_body_over_the_limit_is_a_413(user_client: APIClient) -> None:
    body = '{"message": "' + "x" * 2000 + '"}'

    response = user_client.post("/api/v1/jobs", body, content_type="application/json")

    assert_envelope(response, 413, "payload_too_large")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_form_body_over_the_limit_is_a_413(user_client: APIClient) -> None:
    body = "message=" + "x" * 2000

    response = user_client.post(
        "/api/v1/jobs", body, content_type="application/x-www-form-urlencoded"
    )

    assert_envelope(response, 413, "payload_too_large")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
async def test_asgi_refuses_a_declared_oversized_body_before_reading_it() -> None:
    communicator = HttpCommunicator(
        application,
        "POST",
        "/api/v1/jobs",
        body=b"x" * 2048,
        headers=[(b"content-type", b"application/json"), (b"content-length", b"2048")],
    )
    response = await communicator.get_response()

    assert response["status"] == 413
    assert b'"payload_too_large"' in response["body"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
async def test_asgi_refuses_an_undeclared_oversized_stream() -> None:
    communicator = HttpCommunicator(
        application,
        "POST",
        "/api/v1/jobs",
        body=b"",
        headers=[(b"content-type", b"application/json")],
    )
    await communicator.send_input({"type": "http.request", "body": b"x" * 700, "more_body": True})
    await communicator.send_input({"type": "http.request", "body": b"x" * 700, "more_body": False})
    response_start = await communicator.receive_output(5)
    response_body = await communicator.receive_output(5)

    assert response_start["status"] == 413
    assert b'"payload_too_large"' in response_body["body"]


@pytest.mark.parametrize("path", ["/health", "/api/v1/jobs"])
def test_unknown_host_header_is_a_json_400_on_api_paths(api_client: APIClient, path: str) -> None:
    response = api_client.get(path, HTTP_HOST="attacker.example")

    assert_envelope(response, 400, "malformed_request")


def test_unknown_host_header_stays_html_outside_the_api(api_client: APIClient) -> None:
    response = api_client.get("/admin/login/", HTTP_HOST="attacker.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


@override_settings(DEBUG=True)
@pytest.mark.parametrize("path", ["/health", "/api/v1/posts", "/api/v1/missing"])
def test_unknown_host_header_is_the_envelope_with_debug_on(
    api_client: APIClient, path: str
) -> None:
    response = api_client.get(path, HTTP_HOST="attacker.example")

    error = assert_envelope(response, 400, "malformed_request")
    assert "Host" in error["message"]
    assert b"Traceback" not in response.content
    assert b"settings" not in response.content.lower()


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_write_to_an_unknown_api_path_is_a_404_even_with_a_session(
    user: Any, method: str
) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = getattr(client, method)("/api/v1/no-such-thing", {}, content_type="application/json")

    assert_envelope(response, 404, "not_found")


def test_a_csrf_refusal_under_the_api_is_the_envelope() -> None:
    from django.test import RequestFactory

    from config.http.envelope import csrf_failure

    request = RequestFactory().post("/api/v1/auth/token/refresh")

    response = csrf_failure(request, reason="CSRF token missing")

    assert response.status_code == 403
    error = json.loads(response.content)["error"]
    assert error["code"] == "permission_denied"
    assert "CSRF" in error["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ["text/html", "application/xml", "text/csv"])
def test_an_accept_header_no_renderer_matches_gets_json_not_an_undocumented_406(
    user_client: APIClient, accept: str
) -> None:
    response = user_client.get("/api/v1/users/me", HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_an_error_under_an_unmatched_accept_is_still_the_json_envelope(
    api_client: APIClient,
) -> None:
    response = api_client.get("/api/v1/posts", {"limit": "0"}, HTTP_ACCEPT="text/html")

    assert_envelope(response, 400, "validation_error")
