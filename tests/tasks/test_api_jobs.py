"""`/api/v1/jobs/…` over HTTP, line by line of API.md "Background jobs": create (one or a
batch), list, read, cancel, result download, dedupe, dead letters and requeue, Idempotency-Key.

Jobs that must really run do so on a real Celery worker (`celery_worker`); where a test only
needs a job in some state, the runner runs it in the test's own transaction (`run_here`), the
same code the worker calls.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tasks.models import Job, JobStatus
from tasks.runner import job_run
from tasks.services import job_results_purge
from tasks.services.jobs import job_claim
from tests.content.uploads import image_bytes
from tests.factories import AdminFactory, GuestFactory, UserFactory
from tests.openapi import assert_matches
from tests.tasks.jobs_http import (
    BATCH_URL,
    DEAD_LETTERS_URL,
    JOB_FIELDS,
    URL,
    client_for,
    error_of,
    job_url,
    post_job,
    started,
    wait_for,
)

pytestmark = pytest.mark.django_db

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture
def owner(db: None) -> Any:
    return UserFactory(username="jürgen_müller")


@pytest.fixture
def client(owner: Any) -> APIClient:
    return client_for(owner)


@pytest.fixture
def admin_client(db: None) -> APIClient:
    return client_for(AdminFactory())


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    """Uploads and job results in the test's own directory (the worker threads see it too)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.UPLOAD_PARTIAL_DIR = tmp_path / "partial"
    return settings.MEDIA_ROOT


def run_here(job_id: str) -> str | None:
    return job_run(job_id=job_id, worker="test-runner")


def job_body(client: APIClient, job_id: str) -> dict[str, Any]:
    response = client.get(job_url(job_id))
    assert response.status_code == 200, response.json()
    return response.json()


# --- POST jobs --------------------------------------------------------------------------------


def test_a_job_is_accepted_with_202_and_its_full_shape(client: APIClient) -> None:
    response = post_job(client, "noop", {"tag": "Grüße 🚀"}, priority="high")

    assert response.status_code == 202
    body = response.json()
    assert set(body) == JOB_FIELDS
    job = Job.objects.get(pk=body["id"])
    assert {key: body[key] for key in JOB_FIELDS - {"id", "created_at"}} == {
        "kind": "noop",
        "params": {"tag": "Grüße 🚀"},
        "priority": "high",
        "status": "queued",
        "progress": 0,
        "result": None,
        "result_url": None,
        "error": None,
        "attempts": 0,
        "started_at": None,
        "finished_at": None,
    }
    assert ISO_UTC.match(body["created_at"])
    assert job.owner.username == "jürgen_müller"
    assert_matches(body, URL, "post", 202)


def test_priority_defaults_to_normal_and_params_to_the_kinds_defaults(client: APIClient) -> None:
    body = post_job(client, "steps").json()

    assert (body["priority"], body["params"]) == ("normal", {"steps": 3, "seconds": 0.1})


def test_the_requests_id_follows_its_job(client: APIClient) -> None:
    response = client.post(URL, {"kind": "noop"}, format="json", HTTP_X_REQUEST_ID="req-job-1")

    assert Job.objects.get(pk=response.json()["id"]).request_id == "req-job-1"


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"kind": "nope"}, {"kind"}),
        ({"kind": ""}, {"kind"}),
        ({"params": {}}, {"kind"}),
        ({"kind": "x" * 33}, {"kind"}),
        ({"kind": "noop", "priority": "urgent"}, {"priority"}),
        ({"kind": "noop", "priority": None}, {"priority"}),
        ({"kind": "noop", "params": [1, 2]}, {"params"}),
        ({"kind": "noop", "params": "steps=3"}, {"params"}),
        ({"kind": "nope", "priority": "urgent"}, {"kind", "priority"}),
    ],
)
def test_a_bad_kind_or_priority_is_a_400_naming_the_field(
    client: APIClient, body: dict[str, Any], details: set[str]
) -> None:
    response = client.post(URL, body, format="json")

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert set(error["details"]) == details
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("steps", {"steps": -1}, "steps"),
        ("steps", {"steps": "three"}, "steps"),
        ("steps", {"colour": "grün"}, "colour"),
        ("thumbnail", {}, "upload"),
        ("thumbnail", {"upload": "not-an-id"}, "upload"),
        ("thumbnail", {"upload": "0193a000-0000-7000-8000-000000000001"}, "upload"),
    ],
)
def test_bad_params_are_a_400_with_details_under_params(
    client: APIClient, kind: str, params: dict[str, Any], field: str
) -> None:
    response = post_job(client, kind, params)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert list(error["details"]) == ["params"]
    assert list(error["details"]["params"]) == [field]
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        rb'{"kind": "noop", "params": {"tag": "a\u0000b"}}',
        rb'{"kind": "noop", "params": {"tag": "a\ud800b"}}',
        rb'{"kind": "noop", "params": {"tag": ["ok", {"deep": "\u0000"}]}}',
        rb'{"kind": "noop", "params": {"\u0000": 1}}',
    ],
)
def test_params_postgresql_cannot_store_are_a_400_not_a_500(client: APIClient, raw: bytes) -> None:
    response = client.post(URL, raw, content_type="application/json")

    assert response.status_code == 400
    assert list(error_of(response)["details"]) == ["params"]
    assert not Job.objects.exists()


def test_params_naming_an_upload_the_caller_cannot_see_are_a_400(
    client: APIClient, media_root: Path
) -> None:
    from content.services import upload_create

    upload = upload_create(actor=UserFactory(), name="privat.png", data=image_bytes())

    response = post_job(client, "thumbnail", {"upload": str(upload.pk)})

    assert response.status_code == 400
    assert error_of(response)["details"] == {"params": {"upload": ["No such upload."]}}
    assert not Job.objects.filter(owner__username="jürgen_müller").exists()


def test_anonymous_callers_get_401(api_client: APIClient) -> None:
    for response in (api_client.post(URL, {"kind": "noop"}, format="json"), api_client.get(URL)):
        assert response.status_code == 401
        assert error_of(response)["code"] == "not_authenticated"


def test_a_guest_may_start_a_job(db: None) -> None:
    response = post_job(client_for(GuestFactory()), "noop")

    assert response.status_code == 202


def test_a_posted_job_runs_on_a_worker_and_reads_succeeded(
    celery_worker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(UserFactory())
    with caplog.at_level(logging.INFO, logger="agora.tasks"):
        response = client.post(
            URL,
            {"kind": "steps", "params": {"steps": 2, "seconds": 0.05}},
            HTTP_X_REQUEST_ID="req-job-logs",
        )
        job_id = response.json()["id"]
        wait_for(job_id)
        # The worker logs the success just after committing it.
        deadline = time.monotonic() + 5
        while "job succeeded" not in caplog.messages and time.monotonic() < deadline:
            time.sleep(0.02)

    # The job's logs, written by the worker, name the request that posted it.
    logged = {r.getMessage(): r for r in caplog.records if getattr(r, "job_id", "") == job_id}
    assert {"job queued", "job started", "job succeeded"} <= set(logged)
    assert {logged[m].request_id for m in ("job started", "job succeeded")} == {"req-job-logs"}

    body = job_body(client, job_id)
    assert (body["status"], body["progress"], body["attempts"]) == ("succeeded", 100, 1)
    assert body["result"] == {"steps": 2}
    assert body["created_at"] <= body["started_at"] <= body["finished_at"]
    assert_matches(body, "/api/v1/jobs/{job_id}", "get", 200)


# --- POST jobs/batch --------------------------------------------------------------------------


def test_a_batch_is_accepted_with_202_and_its_jobs_in_order(client: APIClient) -> None:
    jobs = [
        {"kind": "noop", "params": {"tag": "eins"}},
        {"kind": "steps", "params": {"steps": 2}, "priority": "low"},
        {"kind": "noop", "params": {"tag": "drei"}, "priority": "high"},
    ]

    response = client.post(BATCH_URL, {"jobs": jobs}, format="json")

    assert response.status_code == 202
    body = response.json()
    assert list(body) == ["results"]
    assert [(job["kind"], job["priority"]) for job in body["results"]] == [
        ("noop", "normal"),
        ("steps", "low"),
        ("noop", "high"),
    ]
    assert {job["status"] for job in body["results"]} == {"queued"}
    assert Job.objects.count() == 3
    assert_matches(body, BATCH_URL, "post", 202)


def test_a_batch_takes_up_to_100_jobs(client: APIClient) -> None:
    jobs = [{"kind": "noop", "params": {"tag": str(n)}} for n in range(100)]

    response = client.post(BATCH_URL, {"jobs": jobs}, format="json")

    assert response.status_code == 202
    assert len(response.json()["results"]) == Job.objects.count() == 100


def test_a_batch_of_101_jobs_is_a_400_and_writes_nothing(client: APIClient) -> None:
    jobs = [{"kind": "noop", "params": {"tag": str(n)}} for n in range(101)]

    response = client.post(BATCH_URL, {"jobs": jobs}, format="json")

    assert response.status_code == 400
    assert list(error_of(response)["details"]) == ["jobs"]
    assert not Job.objects.exists()


def test_one_bad_job_fails_the_whole_batch_with_errors_under_its_index(
    client: APIClient,
) -> None:
    jobs = [
        {"kind": "noop"},
        {"kind": "nope"},
        {"kind": "steps", "params": {"steps": 2}},
        {"kind": "steps", "params": {"steps": -2}},
    ]

    response = client.post(BATCH_URL, {"jobs": jobs}, format="json")

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert set(error["details"]["jobs"]) == {"1", "3"}
    assert list(error["details"]["jobs"]["1"]) == ["kind"]
    assert list(error["details"]["jobs"]["3"]) == ["params"]
    assert list(error["details"]["jobs"]["3"]["params"]) == ["steps"]
    assert not Job.objects.exists()


def test_a_batch_names_every_bad_job_at_once_whatever_is_wrong_with_it(
    client: APIClient,
) -> None:
    jobs = [
        {"kind": "steps", "params": {"steps": "viele"}},
        {"kind": "noop", "priority": "urgent"},
        {"kind": "noop"},
        {"params": {}},
    ]

    response = client.post(BATCH_URL, {"jobs": jobs}, format="json")

    assert response.status_code == 400
    details = error_of(response)["details"]["jobs"]
    assert list(details) == ["0", "1", "3"]
    assert (list(details["0"]), list(details["1"]), list(details["3"])) == (
        ["params"],
        ["priority"],
        ["kind"],
    )
    assert not Job.objects.exists()


def test_a_batch_item_that_is_not_an_object_is_a_400_under_its_index(client: APIClient) -> None:
    response = client.post(BATCH_URL, {"jobs": [{"kind": "noop"}, "noop"]}, format="json")

    assert response.status_code == 400
    assert list(error_of(response)["details"]["jobs"]) == ["1"]
    assert not Job.objects.exists()


@pytest.mark.parametrize("body", [{}, {"jobs": []}, {"jobs": "noop"}, {"jobs": {"0": {}}}])
def test_a_batch_without_a_list_of_jobs_is_a_400(client: APIClient, body: Any) -> None:
    response = client.post(BATCH_URL, body, format="json")

    assert response.status_code == 400
    assert list(error_of(response)["details"]) == ["jobs"]


def test_identical_jobs_in_one_batch_are_one_job(client: APIClient) -> None:
    jobs = [{"kind": "noop", "params": {"tag": "x"}}] * 2

    results = client.post(BATCH_URL, {"jobs": jobs}, format="json").json()["results"]

    assert results[0]["id"] == results[1]["id"]
    assert Job.objects.count() == 1


def test_anonymous_callers_may_not_post_a_batch(api_client: APIClient) -> None:
    response = api_client.post(BATCH_URL, {"jobs": [{"kind": "noop"}]}, format="json")

    assert response.status_code == 401


# --- GET jobs ---------------------------------------------------------------------------------


def test_a_user_lists_only_their_own_jobs_newest_first(client: APIClient) -> None:
    mine = [started(client, "noop", {"tag": str(n)}) for n in range(3)]
    started(client_for(UserFactory()), "noop")

    body = client.get(URL).json()

    assert body["count"] == 3
    assert [job["id"] for job in body["results"]] == mine[::-1]
    assert_matches(body, URL, "get", 200)


def test_an_admin_lists_every_job(client: APIClient, admin_client: APIClient) -> None:
    ids = {started(client, "noop"), started(client_for(UserFactory()), "noop")}

    body = admin_client.get(URL).json()

    assert {job["id"] for job in body["results"]} == ids


def test_the_list_filters_by_status_and_kind(client: APIClient) -> None:
    done = started(client, "noop", {"tag": "done"})
    run_here(done)
    queued_noop = started(client, "noop", {"tag": "waiting"})
    queued_steps = started(client, "steps")

    def ids(**query: str) -> list[str]:
        response = client.get(URL, query)
        assert response.status_code == 200, response.json()
        return [job["id"] for job in response.json()["results"]]

    assert ids(status="succeeded") == [done]
    assert ids(status="queued") == [queued_steps, queued_noop]
    assert ids(kind="steps") == [queued_steps]
    assert ids(kind="noop", status="queued") == [queued_noop]
    assert ids(status="dead") == []


@pytest.mark.parametrize("query", [{"status": "done"}, {"status": "QUEUED"}, {"kind": "nope"}])
def test_an_unknown_status_or_kind_filter_is_a_400(
    client: APIClient, query: dict[str, str]
) -> None:
    response = client.get(URL, query)

    assert response.status_code == 400
    assert list(error_of(response)["details"]) == list(query)


def test_the_list_pages_by_offset_and_by_cursor(client: APIClient) -> None:
    ids = [started(client, "noop", {"tag": str(n)}) for n in range(5)][::-1]

    first = client.get(URL, {"limit": 2}).json()
    second = client.get(URL, {"limit": 2, "offset": 2}).json()
    cursor_first = client.get(URL, {"limit": 3, "cursor": ""}).json()
    cursor_second = client.get(cursor_first["next"]).json()
    # A job posted meanwhile neither repeats nor shifts the cursor's pages.
    started(client, "noop", {"tag": "late"})
    cursor_again = client.get(cursor_first["next"]).json()

    assert first["count"] == 5
    assert [job["id"] for job in first["results"] + second["results"]] == ids[:4]
    assert "count" not in cursor_first
    assert [job["id"] for job in cursor_first["results"] + cursor_second["results"]] == ids
    assert cursor_again["results"] == cursor_second["results"]
    assert cursor_second["next"] is None


@pytest.mark.parametrize(
    "query", [{"limit": 0}, {"limit": "x"}, {"offset": -1}, {"cursor": "tampered"}]
)
def test_bad_paging_is_a_400(client: APIClient, query: dict[str, Any]) -> None:
    assert client.get(URL, query).status_code == 400


def test_a_limit_over_50_is_clamped(client: APIClient) -> None:
    client.post(
        BATCH_URL, {"jobs": [{"kind": "noop", "params": {"tag": str(n)}} for n in range(55)]}
    )

    assert len(client.get(URL, {"limit": 500}).json()["results"]) == 50


@pytest.mark.parametrize("who", ["user", "admin"])
@pytest.mark.parametrize("pagination", ["offset", "cursor"])
def test_list_query_count_does_not_grow_with_page_size(
    django_assert_num_queries: Any, who: str, pagination: str
) -> None:
    actor = AdminFactory() if who == "admin" else UserFactory()
    client = client_for(actor)
    client.post(
        BATCH_URL, {"jobs": [{"kind": "noop", "params": {"tag": str(n)}} for n in range(12)]}
    )

    for limit in (2, 10):
        # the login session, the count (offset pages only), the page
        with django_assert_num_queries(3 if pagination == "offset" else 2):
            response = client.get(URL, {"limit": limit, "pagination": pagination})
        assert len(response.json()["results"]) == limit


# --- GET jobs/{id} ----------------------------------------------------------------------------


def test_the_owner_and_admins_read_a_job(client: APIClient, admin_client: APIClient) -> None:
    job_id = started(client, "noop")

    mine, as_admin = client.get(job_url(job_id)), admin_client.get(job_url(job_id))

    assert mine.status_code == as_admin.status_code == 200
    assert mine.json() == as_admin.json()
    assert mine.json()["id"] == job_id
    assert_matches(mine.json(), "/api/v1/jobs/{job_id}", "get", 200)


@pytest.mark.parametrize(
    "job_id", ["{other}", "0193a000-0000-7000-8000-000000000001", "not-a-uuid", "12", "%20"]
)
def test_someone_elses_unknown_or_malformed_job_is_a_404(client: APIClient, job_id: str) -> None:
    other = started(client_for(UserFactory()), "noop")

    response = client.get(job_url(job_id.format(other=other)))

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# --- POST jobs/{id}/cancel --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_queued_job_never_starts(celery_worker: Any) -> None:
    # Two long jobs of other users hold both worker threads; the job waits on the broker.
    blockers = [
        started(client_for(UserFactory()), "steps", {"steps": 5, "seconds": 0.2}) for _ in range(2)
    ]
    for blocker in blockers:
        wait_for(blocker, lambda job: job.status == "running")
    client = client_for(UserFactory())
    job_id = started(client, "noop")
    assert Job.objects.get(pk=job_id).dispatched_at is not None

    response = client.post(job_url(job_id, "cancel"))

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    # A job posted after it, on the same queue, runs: the worker took the cancelled one's
    # message before it, and left it alone.
    later = started(client_for(UserFactory()), "noop")
    wait_for(later)
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.attempts, job.started_at) == ("cancelled", 0, None)
    assert job.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_running_job_stops_at_its_next_step(celery_worker: Any) -> None:
    client = client_for(UserFactory())
    job_id = started(client, "steps", {"steps": 40, "seconds": 0.05})
    wait_for(job_id, lambda job: job.status == "running" and job.progress > 0)

    response = client.post(job_url(job_id, "cancel"))

    assert response.status_code == 200
    assert response.json()["status"] in ("running", "cancelled")
    job = wait_for(job_id)
    assert job.status == "cancelled"
    assert 0 < job.progress < 100
    assert job.result is None
    body = job_body(client, job_id)
    assert (body["status"], body["finished_at"] is not None) == ("cancelled", True)


def test_cancelling_a_cancelled_job_answers_200_and_changes_nothing(client: APIClient) -> None:
    job_id = started(client, "noop")
    first = client.post(job_url(job_id, "cancel"))

    again = client.post(job_url(job_id, "cancel"))

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert first.json()["status"] == "cancelled"
    assert_matches(again.json(), "/api/v1/jobs/{job_id}/cancel", "post", 200)


@pytest.mark.parametrize(("kind", "status"), [("noop", "succeeded"), ("refused", "failed")])
def test_cancelling_a_job_that_ended_otherwise_is_a_409(
    client: APIClient, kind: str, status: str
) -> None:
    job_id = started(client, kind)
    run_here(job_id)

    response = client.post(job_url(job_id, "cancel"))

    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"
    assert Job.objects.get(pk=job_id).status == status


def test_cancelling_someone_elses_job_is_a_404_and_an_admin_may(
    client: APIClient, admin_client: APIClient
) -> None:
    job_id = started(client, "noop")

    stranger = client_for(UserFactory()).post(job_url(job_id, "cancel"))
    assert stranger.status_code == 404
    assert Job.objects.get(pk=job_id).status == "queued"

    assert admin_client.post(job_url(job_id, "cancel")).json()["status"] == "cancelled"


# --- GET jobs/{id}/result ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_owner_downloads_the_result_file(celery_worker: Any, media_root: Path) -> None:
    client = client_for(UserFactory())
    job_id = started(client, "echo", {"text": "Grüße aus Köln, 李雷 🚀"})
    assert wait_for(job_id).status == "succeeded"
    body = job_body(client, job_id)

    response = client.get(job_url(job_id, "result"))

    assert body["result_url"].endswith(f"/api/v1/jobs/{job_id}/result")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).decode() == "Grüße aus Köln, 李雷 🚀"
    assert response["Content-Type"].startswith("text/plain")
    assert response["Content-Disposition"] == 'attachment; filename="echo.txt"'
    assert response["Cache-Control"] == "private"


def echo_job(client: APIClient, text: str = "Hallo") -> str:
    job_id = started(client, "echo", {"text": text})
    assert run_here(job_id) == "succeeded"
    return job_id


def test_only_the_owner_downloads_a_result(
    client: APIClient, admin_client: APIClient, media_root: Path
) -> None:
    job_id = echo_job(client)

    for stranger in (client_for(UserFactory()), admin_client):
        response = stranger.get(job_url(job_id, "result"))
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"


def test_a_job_with_no_result_file_has_nothing_to_download(client: APIClient) -> None:
    finished = started(client, "noop", {"tag": "done"})
    run_here(finished)
    queued = started(client, "noop", {"tag": "waiting"})

    for job_id in (finished, queued, "not-a-uuid"):
        response = client.get(job_url(job_id, "result"))
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
    assert job_body(client, finished)["result_url"] is None


def test_an_expired_result_is_410_gone_before_and_after_the_purge(
    client: APIClient, media_root: Path
) -> None:
    job_id = echo_job(client)
    stored = media_root / Job.objects.get(pk=job_id).result_file
    Job.objects.filter(pk=job_id).update(result_expires_at=timezone.now() - timedelta(seconds=1))

    expired = client.get(job_url(job_id, "result"))
    purged = job_results_purge()
    after_purge = client.get(job_url(job_id, "result"))

    for response in (expired, after_purge):
        assert response.status_code == 410
        assert error_of(response)["code"] == "gone"
    assert purged == 1
    assert not stored.exists()
    assert job_body(client, job_id)["result_url"] is None


# --- dedupe -----------------------------------------------------------------------------------


def test_an_identical_request_answers_the_queued_or_running_job(client: APIClient) -> None:
    job_id = started(client, "steps", {"steps": 2})

    assert started(client, "steps", {"steps": 2, "seconds": 0.1}) == job_id
    job_claim(job_id=job_id, worker="test-runner")
    again = post_job(client, "steps", {"steps": 2})

    assert again.status_code == 202
    assert (again.json()["id"], again.json()["status"]) == (job_id, "running")
    assert Job.objects.count() == 1


def test_an_identical_request_answers_a_job_that_succeeded_within_10_minutes(
    client: APIClient,
) -> None:
    job_id = started(client, "noop", {"tag": "bericht"})
    run_here(job_id)
    Job.objects.filter(pk=job_id).update(finished_at=timezone.now() - timedelta(minutes=9))

    assert started(client, "noop", {"tag": "bericht"}) == job_id

    Job.objects.filter(pk=job_id).update(finished_at=timezone.now() - timedelta(minutes=11))
    assert started(client, "noop", {"tag": "bericht"}) != job_id


def test_a_different_request_owner_or_an_ended_unsuccessful_job_gets_a_new_job(
    client: APIClient,
) -> None:
    job_id = started(client, "noop", {"tag": "a"})

    assert started(client, "noop", {"tag": "b"}) != job_id
    assert started(client, "noop", {"tag": "a"}, priority="high") == job_id
    assert started(client_for(UserFactory()), "noop", {"tag": "a"}) != job_id
    client.post(job_url(job_id, "cancel"))
    assert started(client, "noop", {"tag": "a"}) != job_id


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_identical_requests_racing_each_other_get_one_job() -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    owner = UserFactory()
    clients = [client_for(owner) for _ in range(4)]
    barrier = Barrier(len(clients))

    def post(client: APIClient) -> Any:
        try:
            barrier.wait(timeout=10)
            return post_job(client, "noop", {"tag": "gleichzeitig"})
        finally:
            connection.close()

    with ThreadPoolExecutor(len(clients)) as pool:
        responses = list(pool.map(post, clients))

    assert [response.status_code for response in responses] == [202] * len(clients)
    assert len({response.json()["id"] for response in responses}) == 1
    assert Job.objects.count() == 1


# --- dead letters and requeue -----------------------------------------------------------------


def test_dead_letters_are_for_admins_only(client: APIClient, api_client: APIClient) -> None:
    assert error_of(client.get(DEAD_LETTERS_URL))["code"] == "permission_denied"
    assert client.get(DEAD_LETTERS_URL).status_code == 403
    assert api_client.get(DEAD_LETTERS_URL).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_job_that_keeps_failing_becomes_a_dead_letter_and_requeue_runs_it_again(
    celery_worker: Any,
) -> None:
    client, admin_client = client_for(UserFactory()), client_for(AdminFactory())
    job_id = started(client, "broken")
    started(client, "noop")

    dead = wait_for(job_id, sweep=True)
    letters = admin_client.get(DEAD_LETTERS_URL).json()

    assert (dead.status, dead.attempts) == ("dead", 3)
    assert [job["id"] for job in letters["results"]] == [job_id]
    assert letters["results"][0]["error"] == "RuntimeError: this job always fails"
    assert_matches(letters, DEAD_LETTERS_URL, "get", 200)

    response = admin_client.post(job_url(job_id, "requeue"))

    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["attempts"], body["error"]) == ("queued", 0, None)
    assert_matches(body, "/api/v1/jobs/{job_id}/requeue", "post", 202)
    assert admin_client.get(DEAD_LETTERS_URL).json()["results"] == []
    ran_again = wait_for(job_id, lambda job: job.attempts >= 1)
    assert ran_again.started_at is not None
    assert wait_for(job_id, sweep=True).status == "dead"


def test_requeueing_a_queued_job_is_a_409(client: APIClient, admin_client: APIClient) -> None:
    job_id = started(client, "noop")

    response = admin_client.post(job_url(job_id, "requeue"))

    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"


def test_only_admins_requeue(client: APIClient, api_client: APIClient) -> None:
    job_id = started(client, "refused")
    run_here(job_id)

    assert client.post(job_url(job_id, "requeue")).status_code == 403
    assert api_client.post(job_url(job_id, "requeue")).status_code == 401
    assert Job.objects.get(pk=job_id).status == "failed"


def test_requeueing_an_unknown_job_is_a_404(admin_client: APIClient) -> None:
    for job_id in ("0193a000-0000-7000-8000-000000000001", "not-a-uuid"):
        assert admin_client.post(job_url(job_id, "requeue")).status_code == 404


def test_requeueing_an_ended_job_is_audited(client: APIClient) -> None:
    from audits.models import AuditRecord

    admin = AdminFactory()
    job_id = started(client, "refused")
    run_here(job_id)

    client_for(admin).post(job_url(job_id, "requeue"), HTTP_X_REQUEST_ID="req-requeue-1")

    record = AuditRecord.objects.get(action="job.requeued")
    assert (record.actor_id, record.target_id, record.request_id) == (
        admin.pk,
        job_id,
        "req-requeue-1",
    )
    assert record.changes == {"status": ["failed", "queued"]}


def test_dead_letters_page_like_every_list(admin_client: APIClient, owner: Any) -> None:
    client = client_for(owner)
    ids = []
    for n in range(4):
        job_id = started(client, "noop", {"tag": str(n)})
        Job.objects.filter(pk=job_id).update(
            status=JobStatus.DEAD, finished_at=timezone.now() - timedelta(minutes=10 - n)
        )
        ids.append(job_id)

    first = admin_client.get(DEAD_LETTERS_URL, {"limit": 3}).json()
    cursor_first = admin_client.get(DEAD_LETTERS_URL, {"limit": 3, "cursor": ""}).json()
    cursor_second = admin_client.get(cursor_first["next"]).json()

    assert first["count"] == 4
    assert [job["id"] for job in first["results"]] == ids[::-1][:3]
    assert [job["id"] for job in cursor_first["results"] + cursor_second["results"]] == ids[::-1]


def test_dead_letters_query_count_does_not_grow_with_page_size(
    admin_client: APIClient, owner: Any, django_assert_num_queries: Any
) -> None:
    client = client_for(owner)
    for n in range(12):
        job_id = started(client, "noop", {"tag": str(n)})
        Job.objects.filter(pk=job_id).update(status=JobStatus.DEAD, finished_at=timezone.now())

    for limit in (2, 10):
        # the login session, the count, the page
        with django_assert_num_queries(3):
            response = admin_client.get(DEAD_LETTERS_URL, {"limit": limit})
        assert len(response.json()["results"]) == limit


# --- Idempotency-Key --------------------------------------------------------------------------


def test_a_retried_post_with_the_same_idempotency_key_replays_the_first_answer(
    client: APIClient,
) -> None:
    def post() -> Any:
        return client.post(
            URL, {"kind": "noop", "params": {"tag": "einmal"}}, HTTP_IDEMPOTENCY_KEY="job-1"
        )

    first = post()
    # Cancelled, so dedupe alone would now start a new job: the retry is a replay.
    client.post(job_url(first.json()["id"], "cancel"))
    again = post()

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.json()["status"] == "queued"
    assert again["Idempotent-Replayed"] == "true"
    assert Job.objects.count() == 1


def test_the_same_idempotency_key_with_another_body_is_a_409(client: APIClient) -> None:
    client.post(URL, {"kind": "noop"}, HTTP_IDEMPOTENCY_KEY="job-2")

    response = client.post(URL, {"kind": "steps"}, HTTP_IDEMPOTENCY_KEY="job-2")

    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"
    assert Job.objects.count() == 1


def test_a_retried_batch_with_the_same_idempotency_key_writes_nothing_new(
    client: APIClient,
) -> None:
    body = {"jobs": [{"kind": "noop", "params": {"tag": "x"}}, {"kind": "steps"}]}

    first = client.post(BATCH_URL, body, HTTP_IDEMPOTENCY_KEY="batch-1")
    Job.objects.update(status=JobStatus.CANCELLED)
    again = client.post(BATCH_URL, body, HTTP_IDEMPOTENCY_KEY="batch-1")

    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Job.objects.count() == 2
