"""The OpenAPI document describes every jobs operation as the server answers it: its statuses,
its parameters and the job's shape (the answers themselves are checked against it in
test_api_jobs.py, and fuzzed by `make contract`)."""

from __future__ import annotations

import pytest

from tasks.models import JobPriority, JobStatus
from tasks.services.jobs import BATCH_MAX_JOBS
from tests.openapi import openapi_document
from tests.tasks.jobs_http import JOB_FIELDS

pytestmark = pytest.mark.django_db

JOB = "/api/v1/jobs/{job_id}"
JOB_OPERATIONS = [
    ("/api/v1/jobs", "get", {"200", "400", "401"}),
    ("/api/v1/jobs", "post", {"202", "400", "401", "409", "413", "415", "503"}),
    ("/api/v1/jobs/batch", "post", {"202", "400", "401", "409", "413", "415", "503"}),
    ("/api/v1/jobs/dead-letters", "get", {"200", "400", "401", "403"}),
    (JOB, "get", {"200", "401", "404"}),
    (f"{JOB}/cancel", "post", {"200", "401", "404", "409"}),
    (f"{JOB}/result", "get", {"200", "401", "404", "410"}),
    (f"{JOB}/requeue", "post", {"202", "401", "403", "404", "409"}),
]
WRITES = [(path, method) for path, method, _ in JOB_OPERATIONS if method == "post"]


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        return openapi_document()


def component(schema: dict, ref: str) -> dict:
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_every_jobs_path_is_documented(schema) -> None:
    documented = {path for path in schema["paths"] if path.startswith("/api/v1/jobs")}

    assert documented == {path for path, _, _ in JOB_OPERATIONS}


@pytest.mark.parametrize(("path", "method", "statuses"), JOB_OPERATIONS)
def test_every_jobs_operation_is_documented_with_its_answers(
    schema, path: str, method: str, statuses: set[str]
) -> None:
    operation = schema["paths"][path][method]

    assert operation["summary"]
    assert operation["tags"] == ["jobs"]
    assert statuses <= set(operation["responses"])
    for status in statuses - {"200", "202"}:
        content = operation["responses"][status]["content"]["application/json"]
        assert content["schema"]["$ref"] == "#/components/schemas/ErrorEnvelope"


@pytest.mark.parametrize(("path", "method"), WRITES)
def test_every_jobs_write_takes_an_idempotency_key(schema, path: str, method: str) -> None:
    parameters = schema["paths"][path][method]["parameters"]

    assert "Idempotency-Key" in {parameter["name"] for parameter in parameters}


def test_the_job_has_every_field_of_the_contract(schema) -> None:
    ref = schema["paths"][JOB]["get"]["responses"]["200"]["content"]["application/json"]
    job = component(schema, ref["schema"]["$ref"])

    assert set(job["properties"]) == set(job["required"]) == JOB_FIELDS
    assert component(schema, job["properties"]["status"]["$ref"])["enum"] == JobStatus.values
    assert component(schema, job["properties"]["priority"]["$ref"])["enum"] == JobPriority.values
    assert job["properties"]["progress"] == {"type": "integer", "minimum": 0, "maximum": 100}
    nullable = {name for name, field in job["properties"].items() if field.get("nullable")}
    assert nullable == {"result", "result_url", "error", "started_at", "finished_at"}


def test_the_list_documents_its_filters_and_paging(schema) -> None:
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/jobs"]["get"]["parameters"]}

    assert sorted(parameters["status"]["schema"]["enum"]) == sorted(JobStatus.values)
    assert parameters["kind"]["schema"]["type"] == "string"
    assert {"limit", "offset", "cursor", "pagination"} <= set(parameters)


def test_a_job_request_and_a_batch_of_them_are_documented(schema) -> None:
    single = schema["paths"]["/api/v1/jobs"]["post"]["requestBody"]["content"]
    batch = schema["paths"]["/api/v1/jobs/batch"]["post"]["requestBody"]["content"]
    job = component(schema, single["application/json"]["schema"]["$ref"])
    jobs = component(schema, batch["application/json"]["schema"]["$ref"])["properties"]["jobs"]

    assert job["required"] == ["kind"]
    assert set(job["properties"]) == {"kind", "params", "priority"}
    assert jobs["items"] == single["application/json"]["schema"]
    assert (jobs["minItems"], jobs["maxItems"]) == (1, BATCH_MAX_JOBS)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OCTET_STREAM = "application/octet-stream"


def test_the_result_is_documented_as_a_file_download(schema) -> None:
    answer = schema["paths"][f"{JOB}/result"]["get"]["responses"]["200"]["content"]

    binary = {"type": "string", "format": "binary"}
    for media_type in ("text/csv", "application/json", "application/pdf", XLSX, OCTET_STREAM):
        assert answer[media_type]["schema"] == binary


def test_the_batch_answer_is_a_list_of_jobs(schema) -> None:
    answer = schema["paths"]["/api/v1/jobs/batch"]["post"]["responses"]["202"]["content"]
    results = component(schema, answer["application/json"]["schema"]["$ref"])["properties"]

    assert list(results) == ["results"]
    assert results["results"]["type"] == "array"
