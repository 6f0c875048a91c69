"""The OpenAPI document describes every webhooks operation as the server answers it: its
statuses, the endpoint's and the delivery's shapes, the write-only secret."""

from __future__ import annotations

import pytest

from tasks.models import WebhookDeliveryStatus
from tests.openapi import openapi_document
from tests.tasks.webhooks_helpers import DELIVERY_FIELDS, ENDPOINT_FIELDS

pytestmark = pytest.mark.django_db

HOOK = "/api/v1/webhooks/{endpoint_id}"
OPERATIONS = [
    ("/api/v1/webhooks", "get", {"200", "400", "401"}),
    ("/api/v1/webhooks", "post", {"201", "400", "401", "413", "415"}),
    (HOOK, "get", {"200", "401", "404"}),
    (HOOK, "patch", {"200", "400", "401", "404"}),
    (HOOK, "delete", {"204", "401", "404"}),
    (f"{HOOK}/deliveries", "get", {"200", "400", "401", "404"}),
    (f"{HOOK}/test", "post", {"202", "401", "404"}),
]


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        return openapi_document()


def component(schema: dict, ref: str) -> dict:
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def answer(schema: dict, path: str, method: str, status: str) -> dict:
    content = schema["paths"][path][method]["responses"][status]["content"]["application/json"]
    return content["schema"]


def test_every_webhooks_path_is_documented(schema) -> None:
    documented = {path for path in schema["paths"] if path.startswith("/api/v1/webhooks")}

    assert documented == {path for path, _, _ in OPERATIONS}


@pytest.mark.parametrize(("path", "method", "statuses"), OPERATIONS)
def test_every_webhooks_operation_is_documented_with_its_answers(
    schema, path: str, method: str, statuses: set[str]
) -> None:
    operation = schema["paths"][path][method]

    assert operation["summary"]
    assert operation["tags"] == ["webhooks"]
    assert statuses <= set(operation["responses"])
    for status in statuses - {"200", "201", "202", "204"}:
        content = operation["responses"][status]["content"]["application/json"]
        assert content["schema"]["$ref"] == "#/components/schemas/ErrorEnvelope"


def test_the_endpoint_has_its_fields_and_the_secret_only_when_created(schema) -> None:
    endpoint = component(schema, answer(schema, HOOK, "get", "200")["$ref"])
    created = component(schema, answer(schema, "/api/v1/webhooks", "post", "201")["$ref"])

    assert set(endpoint["properties"]) == ENDPOINT_FIELDS
    assert set(created["properties"]) == ENDPOINT_FIELDS | {"secret"}


def test_the_secret_is_write_only_in_the_requests(schema) -> None:
    for method in ("post", "patch"):
        path = "/api/v1/webhooks" if method == "post" else HOOK
        body = schema["paths"][path][method]["requestBody"]["content"]["application/json"]
        request = component(schema, body["schema"]["$ref"])
        assert request["properties"]["secret"]["writeOnly"] is True


def test_the_delivery_has_every_field_of_the_contract(schema) -> None:
    page = answer(schema, f"{HOOK}/deliveries", "get", "200")
    listed = component(schema, page["$ref"])["properties"]["results"]["items"]["$ref"]
    delivery = component(schema, listed)

    assert set(delivery["properties"]) == DELIVERY_FIELDS
    status = component(schema, delivery["properties"]["status"]["$ref"])
    assert status["enum"] == WebhookDeliveryStatus.values
