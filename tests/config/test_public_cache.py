"""The whole-response cache in front of Django: served from Redis, never stale, never private."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from config.http.public_cache import PublicResponseCache, is_public_request
from tests.content.factories import PostFactory
from tests.factories import UserFactory, bearer

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


class Downstream:
    """Stands for Django behind the fast path: records that the request reached it."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"django"})


def fast_get(path: str, **headers: str) -> tuple[Downstream, dict[str, Any]]:
    downstream = Downstream()
    cache = PublicResponseCache(downstream)
    raw = [(b"host", b"testserver")] + [
        (name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()
    ]
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": raw,
        "client": ("127.0.0.1", 5000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async_to_sync(cache)(scope, receive, send)
    start = sent[0]
    return downstream, {
        "status": start["status"],
        "headers": {k.decode(): v.decode() for k, v in start["headers"]},
        "body": b"".join(m.get("body", b"") for m in sent[1:]),
    }


def test_a_cached_post_detail_is_served_without_django(api_client: APIClient) -> None:
    post = PostFactory()
    first = api_client.get(f"/api/v1/posts/{post.pk}")

    downstream, answer = fast_get(f"/api/v1/posts/{post.pk}", x_request_id="fast-1")

    assert downstream.calls == 0
    assert answer["status"] == 200
    assert json.loads(answer["body"]) == first.json()
    assert answer["headers"]["x-cache"] == "hit"
    assert answer["headers"]["x-request-id"] == "fast-1"
    assert answer["headers"]["x-content-type-options"] == "nosniff"
    assert answer["headers"]["content-security-policy"] == first["Content-Security-Policy"]
    assert int(answer["headers"]["ratelimit-remaining"]) >= 0


def test_the_feed_page_is_served_until_a_write_moves_it_on(api_client: APIClient) -> None:
    post = PostFactory()
    api_client.get("/api/v1/posts")
    assert fast_get("/api/v1/posts")[0].calls == 0

    author = APIClient()
    author.credentials(HTTP_AUTHORIZATION=bearer(UserFactory()))
    author.post(f"/api/v1/posts/{post.pk}/comments", {"body": "neu"}, format="json")

    downstream, _ = fast_get("/api/v1/posts")
    assert downstream.calls == 1
    assert fast_get(f"/api/v1/posts/{post.pk}")[0].calls == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Bearer x"},
        {"x_api_key": "agora_x"},
        {"cookie": "sessionid=x"},
        {"origin": "https://elsewhere.example"},
        {"accept": "text/html"},
    ],
)
def test_requests_that_may_differ_go_to_django(api_client: APIClient, headers: dict) -> None:
    post = PostFactory()
    api_client.get(f"/api/v1/posts/{post.pk}")

    assert fast_get(f"/api/v1/posts/{post.pk}", **headers)[0].calls == 1


def test_drafts_and_authenticated_reads_are_never_stored(api_client: APIClient) -> None:
    owner = UserFactory()
    draft = PostFactory(author=owner, status="draft")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(owner))
    client.get(f"/api/v1/posts/{draft.pk}")

    assert fast_get(f"/api/v1/posts/{draft.pk}")[0].calls == 1


def test_a_client_over_its_limit_goes_to_django_for_its_429(
    api_client: APIClient, settings: Any
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anon": "3/min"}
    post = PostFactory()
    api_client.get(f"/api/v1/posts/{post.pk}")

    served = [fast_get(f"/api/v1/posts/{post.pk}")[0].calls for _ in range(3)]

    assert served == [0, 0, 1]


def test_only_plain_anonymous_gets_qualify() -> None:
    assert is_public_request("GET", b"", {"accept": "application/json"})
    assert not is_public_request("GET", b"limit=5", {})
    assert not is_public_request("POST", b"", {})
    assert not is_public_request("GET", b"", {"authorization": "Bearer x"})
