"""`POST ai/chat` against a local OpenAI-compatible provider (tests/tasks/fake_openai.py): whole
and streamed replies, the contract's 503 and 502, retries within the timeout, the caps, who may
ask and how often. Whatever the provider does, the answer is never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.factories import GuestFactory, UserFactory
from tests.openapi import assert_matches
from tests.tasks.fake_openai import DEFAULT_TEXT, DEFAULT_USAGE, Reply
from tests.tasks.jobs_http import client_for, error_of

pytestmark = pytest.mark.django_db

URL = "/api/v1/ai/chat"
PATH = "/api/v1/ai/chat"
QUESTION = [{"role": "user", "content": "Was steht in dem Beitrag über Zoë und 李雷? 🚀"}]


def ask(client: Any, stream: bool = False, **body: Any) -> Any:
    return client.post(URL, {"messages": QUESTION, "stream": stream, **body}, format="json")


def sse_events(response: Any) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each event of a `text/event-stream` body."""
    text = b"".join(response.streaming_content).decode()
    events = []
    for block in text.split("\n\n"):
        if not block:
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


def test_a_member_gets_the_providers_reply(provider) -> None:
    response = ask(client_for(UserFactory()))

    assert response.status_code == 200
    assert response.json() == {
        "message": {"role": "assistant", "content": DEFAULT_TEXT},
        "model": "fake-model-1",
        "usage": DEFAULT_USAGE,
        "truncated": False,
    }
    assert_matches(response.json(), PATH, "post", 200)
    sent = provider.requests[0]
    assert sent["body"]["messages"] == QUESTION
    assert (sent["body"]["model"], sent["body"]["stream"]) == ("fake-model-1", False)
    assert sent["headers"]["authorization"] == "Bearer sk-agora-test"


def test_a_request_may_name_an_allowed_model(provider) -> None:
    response = ask(client_for(UserFactory()), model="fake-model-2")

    assert response.status_code == 200
    assert provider.requests[0]["body"]["model"] == "fake-model-2"


def test_a_streamed_reply_is_one_event_per_chunk_then_done(provider) -> None:
    response = ask(client_for(UserFactory()), stream=True)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    events = sse_events(response)
    chunks = [data for name, data in events[:-1]]
    assert {name for name, _ in events[:-1]} == {"message"}
    assert all(set(data) == {"content"} for data in chunks)
    assert len(chunks) > 1
    assert "".join(data["content"] for data in chunks) == DEFAULT_TEXT
    assert events[-1] == (
        "done",
        {"model": "fake-model-1", "usage": DEFAULT_USAGE, "truncated": False},
    )
    assert provider.requests[0]["body"]["stream"] is True
    for name, data in events:
        event = {"event": name, "data": json.dumps(data)}
        assert_matches(event, PATH, "post", 200, "text/event-stream")


@pytest.mark.parametrize("stream", [False, True])
def test_no_provider_configured_is_a_503(no_provider, stream: bool) -> None:
    response = ask(client_for(UserFactory()), stream=stream)

    assert response.status_code == 503
    assert error_of(response)["code"] == "service_unavailable"
    assert_matches(response.json(), PATH, "post", 503)


@pytest.mark.parametrize("stream", [False, True])
def test_failed_attempts_are_retried_within_the_timeout(provider, stream: bool) -> None:
    provider.queue(Reply(kind="status", status=500), Reply(kind="status", status=429))

    response = ask(client_for(UserFactory()), stream=stream)

    assert response.status_code == 200
    assert len(provider.requests) == 3


FAILURES = {
    "500": Reply(kind="status", status=500),
    "429": Reply(kind="status", status=429, headers={"Retry-After": "60"}),
    "garbage": Reply(kind="garbage"),
    "stream cut before any text": Reply(kind="cut", cut_after=0),
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
def test_a_provider_that_keeps_failing_is_a_502_after_two_retries(
    provider, failure: Reply, stream: bool
) -> None:
    provider.default = failure

    response = ask(client_for(UserFactory()), stream=stream)

    assert response.status_code == 502
    assert error_of(response)["code"] == "upstream_error"
    assert_matches(response.json(), PATH, "post", 502)
    assert len(provider.requests) == 3


@pytest.mark.parametrize("stream", [False, True])
def test_a_refusal_retrying_cannot_fix_is_a_502_at_once(provider, stream: bool) -> None:
    provider.default = Reply(kind="status", status=401)

    response = ask(client_for(UserFactory()), stream=stream)

    assert (response.status_code, error_of(response)["code"]) == (502, "upstream_error")
    assert len(provider.requests) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_a_provider_slower_than_the_timeout_is_a_502_without_retry(
    provider, settings, stream: bool
) -> None:
    settings.OPENAI_TIMEOUT = 1.0
    provider.default = Reply(delay=3.0)

    response = ask(client_for(UserFactory()), stream=stream)

    assert (response.status_code, error_of(response)["code"]) == (502, "upstream_error")
    assert len(provider.requests) == 1


def test_a_stream_cut_mid_way_ends_with_an_error_event(provider) -> None:
    provider.default = Reply(kind="cut", cut_after=3, chunk_size=5)

    response = ask(client_for(UserFactory()), stream=True, HTTP_X_REQUEST_ID="req-ai-cut")

    assert response.status_code == 200
    events = sse_events(response)
    assert "".join(data["content"] for _, data in events[:-1]) == DEFAULT_TEXT[:15]
    name, data = events[-1]
    assert name == "error"
    assert data["error"]["code"] == "upstream_error"
    assert len(provider.requests) == 1


def test_a_stream_trickling_past_the_timeout_ends_with_an_error_event(provider, settings) -> None:
    settings.OPENAI_TIMEOUT = 1.0
    provider.default = Reply(chunk_delay=0.4, chunk_size=4)

    response = ask(client_for(UserFactory()), stream=True)

    events = sse_events(response)
    assert events[0][0] == "message"
    assert events[-1][0] == "error"
    assert events[-1][1]["error"]["code"] == "upstream_error"


@pytest.mark.parametrize("stream", [False, True])
def test_a_reply_over_the_cap_is_cut_and_marked(provider, settings, stream: bool) -> None:
    settings.AI_REPLY_MAX_CHARS = 20

    response = ask(client_for(UserFactory()), stream=stream)

    if stream:
        events = sse_events(response)
        content = "".join(data["content"] for _, data in events[:-1])
        truncated = events[-1][1]["truncated"]
    else:
        content, truncated = response.json()["message"]["content"], response.json()["truncated"]
    assert (content, truncated) == (DEFAULT_TEXT[:20], True)


def test_a_prompt_over_the_cap_is_a_400_and_never_sent(provider, settings) -> None:
    settings.AI_PROMPT_MAX_CHARS = 30
    messages = [{"role": "user", "content": "ä" * 20}, {"role": "assistant", "content": "ö" * 11}]

    response = client_for(UserFactory()).post(URL, {"messages": messages}, format="json")

    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"
    assert "messages" in error_of(response)["details"]
    assert provider.requests == []


BAD_BODIES = {
    "no messages": {"messages": []},
    "unknown role": {"messages": [{"role": "tool", "content": "x"}]},
    "content not text": {"messages": [{"role": "user", "content": {"a": 1}}]},
    "unknown model": {"messages": QUESTION, "model": "gpt-9-ultra"},
    "too many messages": {"messages": QUESTION * 51},
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_requests_are_a_400_and_never_sent(provider, body: dict[str, Any]) -> None:
    response = client_for(UserFactory()).post(URL, body, format="json")

    assert (response.status_code, error_of(response)["code"]) == (400, "validation_error")
    assert provider.requests == []


def test_anonymous_callers_get_a_401(provider, api_client) -> None:
    response = api_client.post(URL, {"messages": QUESTION}, format="json")

    assert (response.status_code, error_of(response)["code"]) == (401, "not_authenticated")


def test_a_guest_gets_a_403_until_their_email_is_verified(provider) -> None:
    response = ask(client_for(GuestFactory()))

    assert (response.status_code, error_of(response)["code"]) == (403, "email_not_verified")
    assert provider.requests == []


def test_each_user_is_rate_limited_on_their_own(provider, settings) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ai": "2/min"}
    eager, other = client_for(UserFactory()), client_for(UserFactory())

    answers = [ask(eager).status_code for _ in range(3)]
    refused = ask(eager)

    assert answers == [200, 200, 429]
    assert error_of(refused)["code"] == "rate_limited"
    assert int(refused["Retry-After"]) >= 1
    assert refused["RateLimit-Limit"] == "2"
    assert ask(other).status_code == 200
    assert len(provider.requests) == 3
