"""The `export` job kind: params checked as the post list checks its filters, the file written
through the runner for each format (what `GET posts/export` would download), the owner's
visibility, progress, cancellation, and the download through `GET jobs/{id}/result`."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from config.core.errors import ValidationFailed
from content.models import PostStatus
from tasks.kinds import kind_concurrency
from tasks.models import Job, JobStatus
from tasks.results import result_storage
from tasks.runner import job_run
from tasks.services import job_cancel, job_create
from tasks.services import jobs as engine
from tests.content.factories import CommentFactory, PostFactory
from tests.factories import AdminFactory, UserFactory, bearer
from tests.tasks.documents import xlsx_rows

pytestmark = pytest.mark.django_db

WORKER = "test-worker"
FORMATS = ("csv", "json", "xlsx")
# What two files of a format must share to hold the same export (a workbook's zip also
# records when it was written).
CONTENT_READERS = {"csv": bytes, "json": json.loads, "xlsx": xlsx_rows}


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(user))
    return client


def export_job(actor: Any, **params: Any) -> Job:
    return job_create(actor=actor, kind="export", params=params)


def ran(job: Job) -> Job:
    job_run(job_id=str(job.pk), worker=WORKER)
    job.refresh_from_db()
    return job


def result_bytes(job: Job) -> bytes:
    with result_storage().open(job.result_file, "rb") as stored:
        return stored.read()


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


def exported_ids(job: Job) -> list[str]:
    return [row[0] for row in csv_rows(result_bytes(job))[1:]]


def refusal(actor: Any, params: Any) -> dict[str, Any]:
    with pytest.raises(ValidationFailed) as refused:
        job_create(actor=actor, kind="export", params=params)
    return refused.value.details


# --- params -----------------------------------------------------------------------------------


def test_params_default_to_csv_of_the_whole_list() -> None:
    assert export_job(UserFactory()).params == {"file_format": "csv", "filters": {}}


def test_filters_are_kept_as_the_lists_query_strings_without_blanks() -> None:
    job = export_job(
        UserFactory(),
        file_format="json",
        filters={"tag": "python", "min_comments": 2, "status": "", "ordering": "-title"},
    )

    assert job.params == {
        "file_format": "json",
        "filters": {"min_comments": "2", "ordering": "-title", "tag": "python"},
    }


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"file_format": "xml"}, ("file_format",)),
        ({"file_format": None}, ("file_format",)),
        ({"format": "csv"}, ("format",)),
        ({"filters": ["status", "draft"]}, ("filters",)),
        ({"filters": "status=draft"}, ("filters",)),
        ({"filters": {"page": "2"}}, ("filters", "page")),
        ({"filters": {"page_size": 10}}, ("filters", "page_size")),
        ({"filters": {"status": "nope"}}, ("filters", "status")),
        ({"filters": {"status": True}}, ("filters", "status")),
        ({"filters": {"status": None}}, ("filters", "status")),
        ({"filters": {"tag": ["a", "b"]}}, ("filters", "tag")),
        ({"filters": {"author": "not-a-uuid"}}, ("filters", "author")),
        ({"filters": {"commented_by": 12}}, ("filters", "commented_by")),
        ({"filters": {"created_after": "yesterday"}}, ("filters", "created_after")),
        ({"filters": {"published_before": "2026-02-30"}}, ("filters", "published_before")),
        ({"filters": {"min_comments": -1}}, ("filters", "min_comments")),
        ({"filters": {"min_comments": "1.5"}}, ("filters", "min_comments")),
        ({"filters": {"min_comments": 2**31}}, ("filters", "min_comments")),
        ({"filters": {"search": "a\x00b"}}, ("filters", "search")),
        ({"filters": {"search": "x" * 201}}, ("filters", "search")),
        ({"filters": {"ordering": "-nope"}}, ("filters", "ordering")),
        ({"filters": {"ordering": "title,title"}}, ("filters", "ordering")),
        ({"filters": {"ordering": "title,"}}, ("filters", "ordering")),
    ],
)
def test_a_bad_param_is_refused_under_its_name(params: dict[str, Any], path: tuple) -> None:
    details = refusal(UserFactory(), params)["params"]

    for name in path:
        assert list(details) == [name]
        details = details[name]
    assert details
    assert all(isinstance(message, str) for message in details)


def test_every_bad_filter_is_named_at_once() -> None:
    details = refusal(
        UserFactory(),
        {"file_format": "pdf", "filters": {"status": "nope", "page": 2, "min_comments": "x"}},
    )

    assert sorted(details["params"]) == ["file_format", "filters"]
    assert sorted(details["params"]["filters"]) == ["min_comments", "page", "status"]


def test_a_filter_is_refused_with_the_message_the_list_gives(user_client: APIClient) -> None:
    listed = user_client.get("/api/v1/posts", {"status": "nope", "created_after": "soon"})
    posted = user_client.post(
        "/api/v1/jobs",
        {"kind": "export", "params": {"filters": {"status": "nope", "created_after": "soon"}}},
        format="json",
    )

    assert (listed.status_code, posted.status_code) == (400, 400)
    assert posted.json()["error"]["code"] == "validation_error"
    assert posted.json()["error"]["details"]["params"]["filters"] == {
        name: listed.json()["error"]["details"][name] for name in ("created_after", "status")
    }


def test_the_kind_runs_at_most_four_at_once() -> None:
    assert kind_concurrency("export") == 4


# --- the file ---------------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", FORMATS)
def test_the_file_holds_what_the_list_export_downloads(file_format: str) -> None:
    member = UserFactory()
    for number in range(3):
        post = PostFactory(tags=["python", "köln"] if number else ["django"])
        CommentFactory.create_batch(number, post=post)
    PostFactory(author=member, status=PostStatus.DRAFT, title="=1+1 O'Brien's draft")
    filters = {"ordering": "title", "min_comments": 0}

    job = ran(export_job(member, file_format=file_format, filters=filters))
    downloaded = client_for(member).get(
        "/api/v1/posts/export", {"file_format": file_format, **filters}
    )

    assert job.status == JobStatus.SUCCEEDED
    data = result_bytes(job)
    read = CONTENT_READERS[file_format]
    assert read(data) == read(b"".join(downloaded.streaming_content))
    assert job.result == {"rows": 4, "file_format": file_format, "bytes": len(data)}
    assert job.result_file.endswith(f".{file_format}")


def test_csv_rows_follow_the_filters_and_ordering() -> None:
    member = UserFactory()
    zulu = PostFactory(title="Zulu zeppelin", tags=["python"])
    alpha = PostFactory(title="Alpha zeppelin", tags=["python"])
    PostFactory(title="Mike zeppelin", tags=["django"])
    PostFactory(title="Alpha other", tags=["python"])

    job = ran(
        export_job(member, filters={"tag": "python", "search": "zeppelin", "ordering": "-title"})
    )

    assert exported_ids(job) == [str(zulu.pk), str(alpha.pk)]


def test_json_items_are_the_lists_items() -> None:
    member = UserFactory()
    post = PostFactory(title="李雷 🚀 \u2028 line", tags=["köln"])

    job = ran(export_job(member, file_format="json"))

    (item,) = json.loads(result_bytes(job))
    listed = client_for(member).get("/api/v1/posts").json()["results"][0]
    assert item == {key: value for key, value in listed.items() if key != "attachments"}
    assert item["id"] == str(post.pk)


def test_xlsx_has_a_header_and_one_row_per_post() -> None:
    PostFactory.create_batch(3)

    job = ran(export_job(UserFactory(), file_format="xlsx"))

    rows = xlsx_rows(result_bytes(job))
    assert rows[0][:3] == ["id", "title", "status"]
    assert len(rows) == 4


def test_an_empty_export_succeeds_with_only_a_header() -> None:
    job = ran(export_job(UserFactory(), filters={"tag": "nothing-has-this"}))

    assert job.status == JobStatus.SUCCEEDED
    assert job.result["rows"] == 0
    assert len(csv_rows(result_bytes(job))) == 1


# --- visibility -------------------------------------------------------------------------------


def test_a_members_export_has_their_drafts_and_nobody_elses() -> None:
    member, other = UserFactory(), UserFactory()
    own_draft = PostFactory(author=member, status=PostStatus.DRAFT)
    others_draft = PostFactory(author=other, status=PostStatus.DRAFT)
    published = PostFactory(author=other)
    archived = PostFactory(author=other, status=PostStatus.ARCHIVED)
    PostFactory(author=other, deleted=True)

    job = ran(export_job(member, filters={"ordering": "created_at"}))

    ids = exported_ids(job)
    assert ids == [str(own_draft.pk), str(published.pk), str(archived.pk)]
    assert str(others_draft.pk) not in ids


def test_an_admins_export_has_everyones_drafts_but_no_deleted_posts() -> None:
    drafts = [PostFactory(status=PostStatus.DRAFT) for _ in range(2)]
    PostFactory(deleted=True)

    job = ran(export_job(AdminFactory(), filters={"status": "draft", "ordering": "created_at"}))

    assert exported_ids(job) == [str(post.pk) for post in drafts]


def test_a_draft_filter_of_a_member_gives_only_their_own_drafts() -> None:
    member = UserFactory()
    own = PostFactory(author=member, status=PostStatus.DRAFT)
    PostFactory(status=PostStatus.DRAFT)

    job = ran(export_job(member, filters={"status": "draft"}))

    assert exported_ids(job) == [str(own.pk)]


# --- progress and cancellation ----------------------------------------------------------------


@pytest.fixture
def progress_every_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress reported after every row written, none throttled."""
    import content.exports
    import tasks.runner

    monkeypatch.setattr(content.exports, "PROGRESS_EVERY_ROWS", 1)
    monkeypatch.setattr(tasks.runner, "PROGRESS_MIN_INTERVAL_SECONDS", 0)


def on_progress(monkeypatch: pytest.MonkeyPatch, hook: Any) -> None:
    """Call `hook(job, progress)` each time the job reports progress, before it is recorded."""
    report = engine.job_progress_report

    def reported(*, job: Job, progress: int) -> None:
        hook(job, progress)
        report(job=job, progress=progress)

    monkeypatch.setattr(engine, "job_progress_report", reported)


@pytest.mark.usefixtures("progress_every_row")
def test_progress_follows_the_rows_written(monkeypatch: pytest.MonkeyPatch) -> None:
    PostFactory.create_batch(4)
    reported: list[int] = []
    on_progress(monkeypatch, lambda job, progress: reported.append(progress))

    job = ran(export_job(UserFactory()))

    assert reported == [25, 50, 75, 99]
    assert (job.status, job.progress) == (JobStatus.SUCCEEDED, 100)


@pytest.mark.usefixtures("progress_every_row")
@pytest.mark.parametrize("file_format", FORMATS)
def test_a_cancel_stops_the_export_midway_and_keeps_no_file(
    file_format: str, monkeypatch: pytest.MonkeyPatch, media_root: Path
) -> None:
    PostFactory.create_batch(5)
    job = export_job(UserFactory(), file_format=file_format)
    reported: list[int] = []

    def cancel_at_the_second_row(running: Job, progress: int) -> None:
        reported.append(progress)
        if progress == 40:
            job_cancel(actor=running.owner, job_id=running.pk)

    on_progress(monkeypatch, cancel_at_the_second_row)

    assert job_run(job_id=str(job.pk), worker=WORKER) == "cancelled"

    job.refresh_from_db()
    assert reported == [20, 40]
    assert (job.status, job.result, job.result_file) == (JobStatus.CANCELLED, None, "")
    assert [path for path in media_root.rglob("*") if path.is_file()] == []


# --- download ---------------------------------------------------------------------------------


def test_the_owner_downloads_the_file_from_result_url() -> None:
    member = UserFactory()
    PostFactory()
    job = ran(export_job(member))

    detail = client_for(member).get(f"/api/v1/jobs/{job.pk}").json()
    response = client_for(member).get(detail["result_url"])

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == result_bytes(job)
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")


def test_someone_elses_result_is_not_found() -> None:
    job = ran(export_job(UserFactory()))

    response = client_for(UserFactory()).get(f"/api/v1/jobs/{job.pk}/result")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_an_expired_result_is_gone() -> None:
    member = UserFactory()
    job = ran(export_job(member))
    Job.objects.filter(pk=job.pk).update(result_expires_at=timezone.now() - timedelta(seconds=1))

    response = client_for(member).get(f"/api/v1/jobs/{job.pk}/result")

    assert response.status_code == 410
    assert response.json()["error"]["code"] == "gone"


# --- through the API and a real worker --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_export_posted_to_the_api_runs_on_a_worker_and_downloads(
    celery_worker: Any, media_root: Path
) -> None:
    member = UserFactory()
    posts = PostFactory.create_batch(3, tags=["python"])
    client = client_for(member)

    created = client.post(
        "/api/v1/jobs",
        {"kind": "export", "params": {"file_format": "csv", "filters": {"tag": "python"}}},
        format="json",
    )
    assert created.status_code == 202
    job_url = f"/api/v1/jobs/{created.json()['id']}"
    deadline = time.monotonic() + 30
    while (job := client.get(job_url).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)

    assert (job["status"], job["result"]["rows"], job["progress"]) == ("succeeded", 3, 100)
    downloaded = b"".join(client.get(job["result_url"]).streaming_content)
    assert sorted(row[0] for row in csv_rows(downloaded)[1:]) == sorted(str(p.pk) for p in posts)
