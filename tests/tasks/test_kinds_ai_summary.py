"""The `ai_summary` job kind: a post summarised by the provider (tests/tasks/fake_openai.py),
its text streamed as `job.output` events while it is written, then the job's result."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from content.models import Post
from tasks.models import Job, JobStatus
from tasks.runner import job_run
from tasks.services import job_create
from tests.content.factories import PostFactory
from tests.factories import UserFactory
from tests.tasks.fake_openai import DEFAULT_TEXT, Reply
from tests.tasks.job_rooms import connect_as, events_until_finished, post_as, subscribe
from tests.tasks.jobs_http import client_for, error_of, post_job

WORKER = "test-worker"


def summary_job(post: Post, owner: Any = None) -> Job:
    return job_create(actor=owner or post.author, kind="ai_summary", params={"post": str(post.pk)})


@pytest.mark.django_db
def test_a_summary_is_written_from_the_post_and_kept_as_the_result(provider) -> None:
    post = PostFactory()
    job = summary_job(post)

    assert job_run(job_id=str(job.pk), worker=WORKER) == "succeeded"

    job.refresh_from_db()
    assert (job.status, job.result) == (JobStatus.SUCCEEDED, {"summary": DEFAULT_TEXT})
    sent = provider.requests[0]["body"]
    assert sent["stream"] is True
    assert sent["messages"][0]["role"] == "system"
    assert sent["messages"][1] == {"role": "user", "content": f"{post.title}\n\n{post.body}"}


@pytest.mark.django_db
def test_a_provider_failure_is_a_failed_attempt_retried_later(provider) -> None:
    provider.default = Reply(kind="status", status=503)
    job = summary_job(PostFactory())

    job_run(job_id=str(job.pk), worker=WORKER)

    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 1)
    assert "AiUpstreamError" in job.error
    assert job.run_after > timezone.now()
    assert len(provider.requests) == 3


@pytest.mark.django_db
def test_a_post_deleted_before_the_job_runs_ends_it_failed(provider) -> None:
    post = PostFactory()
    job = summary_job(post)
    Post.objects.filter(pk=post.pk).update(deleted_at=timezone.now())

    assert job_run(job_id=str(job.pk), worker=WORKER) == "failed"
    assert provider.requests == []


@pytest.mark.django_db
@pytest.mark.parametrize("batch", [False, True])
def test_asking_for_a_summary_without_a_provider_is_a_503(no_provider, batch: bool) -> None:
    post = PostFactory()
    client = client_for(post.author)
    job = {"kind": "ai_summary", "params": {"post": str(post.pk)}}

    if batch:
        response = client.post("/api/v1/jobs/batch", {"jobs": [job]}, format="json")
    else:
        response = post_job(client, **job)

    assert (response.status_code, error_of(response)["code"]) == (503, "service_unavailable")
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_post_the_caller_cannot_see_is_a_400(provider) -> None:
    draft = PostFactory(status="draft", published_at=None)

    response = post_job(client_for(UserFactory()), "ai_summary", {"post": str(draft.pk)})

    assert response.status_code == 400
    assert error_of(response)["details"] == {"params": {"post": ["No such post."]}}


@pytest.mark.django_db(transaction=True)
async def test_the_summary_streams_as_job_output_events_then_ends_in_the_result(
    provider, celery_worker: Any
) -> None:
    provider.default = Reply(chunk_size=6, chunk_delay=0.15)
    post = await sync_to_async(PostFactory)()
    owner = await sync_to_async(lambda: post.author)()
    ws = await connect_as(owner)
    job = await post_as(owner, "ai_summary", {"post": str(post.pk)})
    room = f"job:{job['id']}"
    subscription = await subscribe(ws, room, since=job["id"])

    events = await events_until_finished(ws, room, subscription)

    output = [event["data"] for event in events if event["event"] == "job.output"]
    assert len(output) > 1
    assert {data["id"] for data in output} == {job["id"]}
    assert "".join(data["chunk"] for data in output) == DEFAULT_TEXT
    finished = events[-1]["data"]
    assert (finished["status"], finished["result"]) == ("succeeded", {"summary": DEFAULT_TEXT})
