"""The OpenAPI document describes `POST ai/chat` as the server answers it: JSON or an event
stream, and every refusal in the envelope (the answers themselves are checked against it in
test_api_ai.py, and fuzzed by `make contract`)."""

from __future__ import annotations

import pytest

from tests.openapi import openapi_document

pytestmark = pytest.mark.django_db

PATH = "/api/v1/ai/chat"
ERRORS = {"400", "401", "403", "413", "415", "429", "502", "503"}


@pytest.fixture(scope="module")
def operation(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        return openapi_document()["paths"][PATH]["post"]


def test_the_chat_answers_json_or_an_event_stream(operation) -> None:
    content = operation["responses"]["200"]["content"]

    assert set(content) == {"application/json", "text/event-stream"}
    event = content["text/event-stream"]["schema"]
    assert (event["type"], event["required"]) == ("object", ["data"])
    assert event["properties"]["event"]["enum"] == ["message", "done", "error"]
    assert "event: done" in operation["responses"]["200"]["description"]


def test_every_refusal_is_documented_in_the_envelope(operation) -> None:
    assert set(operation["responses"]) == {"200", *ERRORS}
    for status in ERRORS:
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}


def test_the_request_names_its_fields_and_the_chat_takes_no_idempotency_key(operation) -> None:
    document = openapi_document()
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = document["components"]["schemas"][ref.rsplit("/", 1)[1]]

    assert set(body["properties"]) == {"messages", "model", "stream"}
    assert body["required"] == ["messages"]
    assert body["properties"]["messages"]["maxItems"] == 50
    assert "Idempotency-Key" not in {p["name"] for p in operation.get("parameters", [])}
    assert operation["tags"] == ["ai"]
