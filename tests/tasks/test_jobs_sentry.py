"""Failed job attempts reach Sentry, naming the job: a real worker runs the jobs, the real
sentry_sdk (initialised as SENTRY_DSN does it) sends its envelopes to a small Sentry stand-in
on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sentry_sdk

from config.sentry import sentry_init
from tasks.models import Job, JobStatus
from tasks.services import job_create
from tests.factories import UserFactory

WAIT_SECONDS = 15.0


class SentryStandIn(ThreadingHTTPServer):
    """Accepts what sentry_sdk posts to `/api/<project>/envelope/` and keeps the events."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EnvelopeHandler)
        self.events: list[dict[str, Any]] = []
        self.paths: list[str] = []

    @property
    def dsn(self) -> str:
        return f"http://public-key@127.0.0.1:{self.server_address[1]}/1"


class _EnvelopeHandler(BaseHTTPRequestHandler):
    server: SentryStandIn

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        body = _decoded(body, self.headers.get("Content-Encoding", ""))
        self.server.paths.append(self.path)
        self.server.events.extend(_events_of(body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def _decoded(body: bytes, encoding: str) -> bytes:
    """sentry_sdk compresses with brotli when the `brotli` package is importable (Locust brings
    it into the dev environment), else with gzip."""
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "br":
        import brotli  # only installed when sentry_sdk chose it

        return brotli.decompress(body)
    return body


def _events_of(envelope: bytes) -> list[dict[str, Any]]:
    """The `event` items of an envelope: a header line, then item headers each followed by
    a payload of `length` bytes (or up to the end of the line)."""
    _, _, rest = envelope.partition(b"\n")
    events = []
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        header = json.loads(header_line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] + 1 :]
        else:
            payload, _, rest = rest.partition(b"\n")
        if header.get("type") == "event":
            events.append(json.loads(payload))
    return events


@pytest.fixture
def sentry() -> Iterator[SentryStandIn]:
    """Sentry on, as config.settings.base turns it on when SENTRY_DSN is set; off afterwards."""
    server = SentryStandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sentry_init(dsn=server.dsn, environment="test", release="test", traces_sample_rate=0.0)
    try:
        yield server
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)
        server.shutdown()
        server.server_close()


def job_after_its_first_attempt(kind: str) -> Job:
    job = job_create(actor=UserFactory(), kind=kind)
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.attempts and job.status != JobStatus.RUNNING:
            return job
        time.sleep(0.05)
    raise AssertionError(f"the {kind} job did not run: {job.status}")


def reported(server: SentryStandIn, *, expected: int) -> list[dict[str, Any]]:
    """The events received once `expected` arrived (the worker may still be logging the job's
    end after its row committed), or after a short wait when none is expected."""
    deadline = time.monotonic() + (WAIT_SECONDS if expected else 0.5)
    while True:
        sentry_sdk.flush(timeout=5)
        if (expected and len(server.events) >= expected) or time.monotonic() > deadline:
            return server.events
        time.sleep(0.05)


def test_a_failed_attempt_is_reported_with_its_exception_and_the_job_as_tags(
    sentry: SentryStandIn, celery_worker: Any
) -> None:
    job = job_after_its_first_attempt("broken")

    (event,) = reported(sentry, expected=1)

    assert job.status == JobStatus.QUEUED  # it will be retried
    assert set(sentry.paths) == {"/api/1/envelope/"}
    assert event["logger"] == "agora.tasks"
    assert event["logentry"]["message"] == "job attempt failed"
    (exception,) = event["exception"]["values"]
    assert (exception["type"], exception["value"]) == ("RuntimeError", "this job always fails")
    assert event["tags"]["job.id"] == str(job.pk)
    assert (event["tags"]["job.kind"], event["tags"]["job.priority"]) == ("broken", "normal")
    assert event["contexts"]["job"] == {
        "attempt": 1,
        "max_attempts": 3,
        "owner": str(job.owner_id),
    }


def test_a_job_that_fails_for_good_is_reported_as_an_error_naming_it(
    sentry: SentryStandIn, celery_worker: Any
) -> None:
    job = job_after_its_first_attempt("refused")

    (event,) = reported(sentry, expected=1)

    assert job.status == JobStatus.FAILED
    assert event["level"] == "error"
    assert event["logentry"]["formatted"] == "job failed"
    assert (event["tags"]["job.id"], event["tags"]["job.kind"]) == (str(job.pk), "refused")
    assert event["extra"]["error"] == "nothing to retry here"


def test_a_job_that_succeeds_reports_nothing(sentry: SentryStandIn, celery_worker: Any) -> None:
    job = job_after_its_first_attempt("noop")

    assert job.status == JobStatus.SUCCEEDED
    assert reported(sentry, expected=0) == []
