"""Checks an answer against the OpenAPI document, as a client generated from it would read it.

OpenAPI 3.0 schemas are JSON Schema but for `nullable`; they are turned into JSON Schema 2020-12
(`nullable: true` becomes "or null") and validated with jsonschema, formats included.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from rest_framework.test import APIClient


@cache
def openapi_document() -> dict[str, Any]:
    return APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()


def response_schema(path: str, method: str, status: int, media_type: str = "application/json"):
    """The JSON Schema of one documented answer; KeyError if it is not documented."""
    document = openapi_document()
    response = document["paths"][path][method.lower()]["responses"][str(status)]
    return _json_schema(response["content"][media_type]["schema"])


def assert_matches(
    body: Any, path: str, method: str, status: int, media_type: str = "application/json"
) -> None:
    """`body` is what the document says `method path` answers with `status`."""
    schema = {
        **response_schema(path, method, status, media_type),
        "components": _json_schema(openapi_document()["components"]),
    }
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(body), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def _json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if not node.get("nullable"):
        return converted
    if isinstance(converted.get("type"), str) and "$ref" not in converted:
        converted["type"] = [converted["type"], "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
        return converted
    return {"anyOf": [converted, {"type": "null"}]}
