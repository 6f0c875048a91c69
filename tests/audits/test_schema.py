"""The OpenAPI document covers every audit operation, with examples and error shapes."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

AUDIT_OPERATIONS = [
    ("/api/v1/audits", "get"),
    ("/api/v1/audits", "post"),
    ("/api/v1/audits/{record_id}", "get"),
    ("/api/v1/audits/{record_id}", "patch"),
    ("/api/v1/audits/{record_id}", "put"),
    ("/api/v1/audits/{record_id}", "delete"),
]
LIST_FILTERS = {
    "actor",
    "action",
    "target_type",
    "target_id",
    "occurred_after",
    "occurred_before",
    "request_id",
    "status",
}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        return APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()


@pytest.mark.parametrize(("path", "method"), AUDIT_OPERATIONS)
def test_every_audit_operation_is_documented_with_its_errors(schema, path, method) -> None:
    operation = schema["paths"][path][method]

    assert operation["summary"]
    assert {"401", "403"} <= set(operation["responses"])


@pytest.mark.parametrize(
    ("path", "method"), [(p, m) for p, m in AUDIT_OPERATIONS if m in ("post", "patch", "put")]
)
def test_every_audit_write_has_a_request_example(schema, path, method) -> None:
    content = schema["paths"][path][method]["requestBody"]["content"]

    assert any(body.get("examples") for body in content.values())


def test_the_list_documents_its_filters_and_pages(schema) -> None:
    operation = schema["paths"]["/api/v1/audits"]["get"]

    names = {parameter["name"] for parameter in operation["parameters"]}
    assert LIST_FILTERS | {"limit", "offset"} <= names
    assert "400" in operation["responses"]


def test_triage_bodies_are_closed_and_never_empty(schema) -> None:
    body = schema["components"]["schemas"]["PatchedAuditRecordUpdateInputRequest"]

    assert body["additionalProperties"] is False
    assert body["minProperties"] == 1


def test_reported_events_state_their_text_and_size_limits(schema) -> None:
    event = schema["components"]["schemas"]["AuditEventInputRequest"]["properties"]

    assert event["changes"]["maxProperties"] == 200
    assert re.fullmatch(event["target_id"]["pattern"], "INV-2026-0042\twith a tab")
    assert not re.fullmatch(event["target_id"]["pattern"], "nul\x00")


def test_a_triage_patch_needs_its_body(schema) -> None:
    assert schema["paths"]["/api/v1/audits/{record_id}"]["patch"]["requestBody"]["required"]
