"""X-Request-ID in and out, and the structured access log that carries it."""

from __future__ import annotations

import json
import logging

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from config.core.context import REQUEST_ID_PATTERN, request_id_var
from config.http.logs import ConsoleFormatter, redact_query


@pytest.mark.parametrize("request_id", ["abc", "A-b_c.9", "x" * 128])
def test_a_well_formed_request_id_is_echoed(api_client: APIClient, request_id: str) -> None:
    response = api_client.get("/health", HTTP_X_REQUEST_ID=request_id)

    assert response["X-Request-ID"] == request_id


@pytest.mark.parametrize(
    "request_id", ["", "x" * 129, "has space", "semi;colon", "ünïcode", "a\tb"]
)
def test_a_malformed_request_id_is_replaced(api_client: APIClient, request_id: str) -> None:
    response = api_client.get("/health", HTTP_X_REQUEST_ID=request_id)

    assert response["X-Request-ID"] != request_id
    assert REQUEST_ID_PATTERN.fullmatch(response["X-Request-ID"])


def test_a_request_id_is_generated_when_absent(api_client: APIClient) -> None:
    first = api_client.get("/health")["X-Request-ID"]
    second = api_client.get("/health")["X-Request-ID"]

    assert REQUEST_ID_PATTERN.fullmatch(first)
    assert first != second


def test_pages_outside_the_api_carry_a_request_id_too(api_client: APIClient) -> None:
    assert REQUEST_ID_PATTERN.fullmatch(api_client.get("/admin/login/")["X-Request-ID"])


@pytest.mark.django_db
def test_access_log_line_has_request_id_user_method_path_status_and_duration(
    user_client: APIClient, user, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="agora.access"):
        user_client.post("/api/v1/jobs?token=s3cr3t&page=2", {}, HTTP_X_REQUEST_ID="req-42")

    [record] = [r for r in caplog.records if r.name == "agora.access"]
    assert record.request_id == "req-42"
    assert record.method == "POST"
    assert record.path == "/api/v1/jobs"
    assert record.status == 400
    assert record.duration_ms >= 0
    assert record.user == str(user.pk)
    assert record.query == "token=%5Bredacted%5D&page=2"
    assert "s3cr3t" not in caplog.text


def test_credentials_in_query_strings_are_redacted() -> None:
    redacted = redact_query("ticket=abc&token=def&api_key=ghi&q=%C3%BC")

    assert "abc" not in redacted
    assert "def" not in redacted
    assert "ghi" not in redacted
    assert "q=%C3%BC" in redacted


def _record(request_id: str, **extra: object) -> logging.LogRecord:
    token = request_id_var.set(request_id)
    try:
        record = logging.getLogRecordFactory()(
            "agora.test", logging.INFO, __file__, 1, "hello %s", ("Zoë",), None
        )
    finally:
        request_id_var.reset(token)
    record.__dict__.update(extra)
    return record


def test_records_are_stamped_with_the_request_id_of_their_context() -> None:
    assert _record("ctx-7").request_id == "ctx-7"


def test_json_log_format_is_one_json_object_per_line_with_the_request_id() -> None:
    formatter_config = settings.LOGGING["formatters"]["json"].copy()
    formatter_class = formatter_config.pop("()")
    module, _, name = formatter_class.rpartition(".")
    formatter = getattr(__import__(module, fromlist=[name]), name)(**formatter_config)

    line = formatter.format(_record(request_id="rid-1", status=201, duration_ms=3.5))

    payload = json.loads(line)
    assert payload["message"] == "hello Zoë"
    assert payload["request_id"] == "rid-1"
    assert payload["level"] == "INFO"
    assert payload["logger"] == "agora.test"
    assert payload["status"] == 201
    assert payload["duration_ms"] == 3.5


def test_console_log_format_shows_request_id_and_fields() -> None:
    formatter = ConsoleFormatter("[%(request_id)s] %(message)s%(extras)s")

    line = formatter.format(_record(request_id="rid-2", status=404))

    assert line == "[rid-2] hello Zoë status=404"
