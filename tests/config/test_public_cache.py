"""The whole-response cache in front of Django: served from Redis, never stale, never private."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from accounts.fast_path import CachedBearerLogins
from accounts.services.sessions import login_session_logout, login_sessions_revoke
from accounts.services.users import user_update_by_admin
from config.http.public_cache import PublicResponseCache, is_public_request, request_shape
from config.http.rate_limits import configured_rate, current_window
from tests.content.factories import PostFactory, feed_with_drafts
from tests.factories import UserFactory, bearer, token_pair

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


class Downstream:
    """Stands for Django behind the fast path: records that the request reached it."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"django"})


def fast_get(path: str, query: str = "", **headers: str) -> tuple[Downstream, dict[str, Any]]:
    downstream = Downstream()
    cache = PublicResponseCache(downstream, logins=CachedBearerLogins())
    raw = [(b"host", b"testserver")] + [
        (name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()
    ]
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query.encode(),
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
        {"authorization": "Basic eDp5"},
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


def test_request_shapes() -> None:
    assert request_shape("GET", {"authorization": "Bearer a.b.c"}) == "bearer"
    assert request_shape("GET", {}) == "anonymous"
    assert request_shape("GET", {"authorization": "bearer a.b.c"}) is None
    assert request_shape("GET", {"authorization": "Bearer a b"}) is None
    assert request_shape("GET", {"authorization": "Bearer a", "cookie": "x=1"}) is None
    assert request_shape("HEAD", {}) is None


def client_of(user: Any) -> tuple[APIClient, str]:
    header = bearer(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client, header


# --- bearer requests --------------------------------------------------------------------


def test_a_public_post_is_served_to_a_signed_in_caller_as_django_serves_it() -> None:
    post = PostFactory()
    member = UserFactory()
    client, header = client_of(member)
    first = client.get(f"/api/v1/posts/{post.pk}")

    downstream, answer = fast_get(
        f"/api/v1/posts/{post.pk}", authorization=header, x_request_id="fast-2"
    )

    assert downstream.calls == 0
    assert json.loads(answer["body"]) == first.json()
    assert answer["headers"]["x-request-id"] == "fast-2"
    assert answer["headers"]["ratelimit-limit"] == first["RateLimit-Limit"]
    assert int(answer["headers"]["ratelimit-remaining"]) == int(first["RateLimit-Remaining"]) - 1
    stored = {k.lower() for k in first.headers} - {"x-request-id", "x-cache", "content-length"}
    assert stored <= set(answer["headers"])


def test_the_entry_an_anonymous_read_stored_serves_admins_the_detail() -> None:
    post = PostFactory()
    APIClient().get(f"/api/v1/posts/{post.pk}")
    admin = UserFactory(role="admin", is_staff=True)

    assert fast_get(f"/api/v1/posts/{post.pk}", authorization=bearer(admin))[0].calls == 0


@pytest.mark.parametrize("query", ["", "limit=20", "limit=20&offset=0", "offset=0"])
def test_the_default_first_page_is_shared_with_members_without_drafts(query: str) -> None:
    PostFactory()
    member = UserFactory()
    client, header = client_of(member)
    anonymous = APIClient().get(f"/api/v1/posts?{query}")
    signed_in = client.get(f"/api/v1/posts?{query}")
    assert signed_in.json() == anonymous.json()

    downstream, answer = fast_get("/api/v1/posts", query, authorization=header)

    assert downstream.calls == 0
    assert json.loads(answer["body"]) == anonymous.json()


def test_other_pages_and_filters_are_not_shared() -> None:
    PostFactory()
    member = UserFactory()
    client, header = client_of(member)
    for query in ("limit=5", "offset=20", "limit=20&limit=20", "status=published", "x=1"):
        client.get(f"/api/v1/posts?{query}")
        APIClient().get(f"/api/v1/posts?{query}")
        assert fast_get("/api/v1/posts", query, authorization=header)[0].calls == 1
        assert fast_get("/api/v1/posts", query)[0].calls == 1


def test_a_member_with_a_draft_gets_their_own_list_then_their_own_entry() -> None:
    PostFactory()
    member = UserFactory()
    client, header = client_of(member)
    client.get("/api/v1/posts?limit=20")
    assert fast_get("/api/v1/posts", "limit=20", authorization=header)[0].calls == 0

    draft = client.post(
        "/api/v1/posts", {"title": "Mine", "body": "b", "status": "draft"}, format="json"
    )
    assert draft.status_code == 201
    # The write moved the feed on: the shared page and the member's draft count are stale.
    assert fast_get("/api/v1/posts", "limit=20", authorization=header)[0].calls == 1
    mine = client.get("/api/v1/posts?limit=20")
    assert mine["X-Cache"] == "miss"
    assert mine.json()["results"][0]["id"] == draft.json()["id"]
    assert mine.json()["count"] == 2
    # An anonymous read caches the shared page again; the member reads their own entry.
    assert APIClient().get("/api/v1/posts?limit=20").json()["count"] == 1
    assert fast_get("/api/v1/posts", "limit=20")[0].calls == 0
    downstream, answer = fast_get("/api/v1/posts", "limit=20", authorization=header)
    assert downstream.calls == 0
    assert answer["body"] == mine.content
    assert answer["headers"]["x-cache"] == "hit"
    assert answer["headers"]["content-type"] == mine["Content-Type"]


@pytest.mark.parametrize("newer_drafts", [0, 2, 25])
@pytest.mark.parametrize("query", ["", "limit=20", "offset=0&limit=20"])
def test_a_members_own_entry_is_the_page_django_computes(
    monkeypatch: pytest.MonkeyPatch, newer_drafts: int, query: str
) -> None:
    from content.views import posts as views

    member = UserFactory()
    feed_with_drafts(member, newer_drafts=newer_drafts)
    client, header = client_of(member)
    APIClient().get("/api/v1/posts")  # the shared page, cached
    client.get(f"/api/v1/posts?{query}")  # the member's own, stored

    downstream, answer = fast_get("/api/v1/posts", query, authorization=header)
    monkeypatch.setattr(views, "is_default_first_page", lambda request, limit: False)
    computed = client.get(f"/api/v1/posts?{query}")

    assert downstream.calls == 0
    assert answer["status"] == computed.status_code == 200
    assert answer["body"] == computed.content
    assert json.loads(answer["body"])["count"] == 22 + newer_drafts + 3


def _member_with_own_entry() -> tuple[APIClient, str, Any]:
    """A member with a draft whose own first page the fast path answers."""
    PostFactory()
    member = UserFactory()
    draft = PostFactory(author=member, status="draft")
    client, header = client_of(member)
    client.get("/api/v1/posts?limit=20")
    assert fast_get("/api/v1/posts", "limit=20", authorization=header)[0].calls == 0
    return client, header, draft


def test_a_members_own_entry_answers_nobody_else() -> None:
    _client, header, draft = _member_with_own_entry()
    other = UserFactory()
    PostFactory(author=other, status="draft")
    other_client, other_header = client_of(other)
    admin = UserFactory(role="admin", is_staff=True)

    # No shared entry: nobody but the member is answered, and nobody ever sees their draft.
    assert fast_get("/api/v1/posts", "limit=20")[0].calls == 1
    assert fast_get("/api/v1/posts", "limit=20", authorization=other_header)[0].calls == 1
    assert fast_get("/api/v1/posts", "limit=20", authorization=bearer(admin))[0].calls == 1
    other_client.get("/api/v1/posts?limit=20")
    downstream, answer = fast_get("/api/v1/posts", "limit=20", authorization=other_header)
    assert downstream.calls == 0
    assert str(draft.pk) not in answer["body"].decode()
    # Nor under another URL.
    assert fast_get("/api/v1/posts", "limit=20&offset=0", authorization=header)[0].calls == 1


@pytest.mark.parametrize(
    "change",
    [
        "their draft edited",
        "their draft published",
        "someone's post created",
        "their display name",
        "a comment on a post of the page",
    ],
)
def test_a_members_own_entry_goes_stale_with_what_it_shows(change: str) -> None:
    from content.models import Post

    client, header, draft = _member_with_own_entry()
    if change == "their draft edited":
        done = client.patch(f"/api/v1/posts/{draft.pk}", {"title": "Edited"}, format="json")
    elif change == "their draft published":
        done = client.patch(f"/api/v1/posts/{draft.pk}", {"status": "published"}, format="json")
    elif change == "someone's post created":
        author, _ = client_of(UserFactory())
        done = author.post("/api/v1/posts", {"title": "New", "body": "b"}, format="json")
    elif change == "their display name":
        done = client.patch("/api/v1/users/me", {"display_name": "Neu"}, format="json")
    else:
        public = Post.objects.exclude(pk=draft.pk).get()
        done = client.post(f"/api/v1/posts/{public.pk}/comments", {"body": "neu"}, format="json")
    assert done.status_code in (200, 201)

    assert fast_get("/api/v1/posts", "limit=20", authorization=header)[0].calls == 1
    fresh = client.get("/api/v1/posts?limit=20")
    downstream, answer = fast_get("/api/v1/posts", "limit=20", authorization=header)
    assert downstream.calls == 0
    assert answer["body"] == fresh.content


def test_a_members_own_entry_refuses_a_revoked_login_and_counts_the_limit(
    settings: Any,
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "user": "4/min"}
    PostFactory()
    member = UserFactory()
    PostFactory(author=member, status="draft")
    pair = token_pair(member)
    header = f"Bearer {pair.access_token}"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get("/api/v1/posts?limit=20")["RateLimit-Remaining"] == "3"

    served = [fast_get("/api/v1/posts", "limit=20", authorization=header) for _ in range(4)]
    assert [downstream.calls for downstream, _ in served] == [0, 0, 0, 1]
    assert [answer["headers"].get("ratelimit-remaining") for _, answer in served[:3]] == [
        "2",
        "1",
        "0",
    ]
    window = current_window("user", f"user:{member.pk}", configured_rate("user"))
    assert django_cache().get(window.key) == 4

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "user": "100/min"}
    assert fast_get("/api/v1/posts", "limit=20", authorization=header)[0].calls == 0
    login_session_logout(refresh_token=pair.refresh_token)
    assert fast_get("/api/v1/posts", "limit=20", authorization=header)[0].calls == 1
    assert client.get("/api/v1/posts?limit=20").status_code == 401


def test_admins_get_the_list_from_django() -> None:
    PostFactory()
    admin = UserFactory(role="admin", is_staff=True)
    APIClient().get("/api/v1/posts?limit=20")

    assert fast_get("/api/v1/posts", "limit=20", authorization=bearer(admin))[0].calls == 1


def test_a_deleted_post_is_not_served() -> None:
    member = UserFactory()
    post = PostFactory(author=member)
    client, header = client_of(member)
    client.get(f"/api/v1/posts/{post.pk}")
    assert fast_get(f"/api/v1/posts/{post.pk}", authorization=header)[0].calls == 0

    assert client.delete(f"/api/v1/posts/{post.pk}").status_code == 204

    assert fast_get(f"/api/v1/posts/{post.pk}", authorization=header)[0].calls == 1
    assert client.get(f"/api/v1/posts/{post.pk}").status_code == 404


def test_a_draft_is_never_served_from_an_entry() -> None:
    member = UserFactory()
    draft = PostFactory(author=member, status="draft")
    client, header = client_of(member)
    assert client.get(f"/api/v1/posts/{draft.pk}").status_code == 200

    assert fast_get(f"/api/v1/posts/{draft.pk}", authorization=header)[0].calls == 1


def _a_detail_served_to_a_member() -> tuple[Any, Any, Any, str]:
    """A post whose detail is cached, and a member's token pair whose bearer header is
    answered from that entry before Django: (post, member, pair, header)."""
    post = PostFactory()
    member = UserFactory()
    pair = token_pair(member)
    header = f"Bearer {pair.access_token}"
    APIClient().get(f"/api/v1/posts/{post.pk}")
    assert fast_get(f"/api/v1/posts/{post.pk}", authorization=header)[0].calls == 0
    return post, member, pair, header


def _served_then_refused(revoke: Any) -> None:
    post, member, pair, header = _a_detail_served_to_a_member()

    revoke(member, pair)

    assert fast_get(f"/api/v1/posts/{post.pk}", authorization=header)[0].calls == 1
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client.get(f"/api/v1/posts/{post.pk}")


def test_a_logout_refuses_the_token_at_once() -> None:
    answer = _served_then_refused(
        lambda user, pair: login_session_logout(refresh_token=pair.refresh_token)
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "token_invalid"


def test_a_logout_everywhere_refuses_the_token_at_once() -> None:
    answer = _served_then_refused(
        lambda user, pair: login_sessions_revoke(user_id=user.pk, reason="logout_all")
    )
    assert answer.status_code == 401


def test_a_banned_user_is_refused_at_once() -> None:
    admin = UserFactory(role="admin", is_staff=True)
    answer = _served_then_refused(
        lambda user, pair: user_update_by_admin(actor=admin, user=user, is_active=False)
    )
    assert answer.status_code == 401


def test_a_role_change_sends_the_token_to_django() -> None:
    admin = UserFactory(role="admin", is_staff=True)
    answer = _served_then_refused(
        lambda user, pair: user_update_by_admin(actor=admin, user=user, role="guest")
    )
    assert answer.status_code == 200


def test_a_refresh_caches_the_login_again() -> None:
    post = PostFactory()
    member = UserFactory()
    pair = token_pair(member)
    APIClient().get(f"/api/v1/posts/{post.pk}")
    admin = UserFactory(role="admin", is_staff=True)
    user_update_by_admin(actor=admin, user=member, role="guest")
    assert (
        fast_get(f"/api/v1/posts/{post.pk}", authorization=f"Bearer {pair.access_token}")[0].calls
        == 1
    )

    refreshed = APIClient().post(
        "/api/v1/auth/token/refresh", {"refresh_token": pair.refresh_token}, format="json"
    )
    header = f"Bearer {refreshed.json()['access_token']}"

    downstream, answer = fast_get(f"/api/v1/posts/{post.pk}", authorization=header)
    assert downstream.calls == 0
    assert answer["headers"]["ratelimit-limit"] == str(configured_rate("guest").limit)


def test_bad_and_expired_tokens_go_to_django() -> None:
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    post, _, pair, header = _a_detail_served_to_a_member()
    tampered = header[:-3] + ("aaa" if not header.endswith("aaa") else "bbb")
    expired = AccessToken(pair.access_token)
    expired.set_exp(lifetime=-timedelta(seconds=1))

    assert fast_get(f"/api/v1/posts/{post.pk}", authorization=tampered)[0].calls == 1
    assert fast_get(f"/api/v1/posts/{post.pk}", authorization=f"Bearer {expired}")[0].calls == 1


def test_a_signed_in_caller_over_its_limit_is_counted_once_and_refused_by_django(
    settings: Any,
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "user": "3/min"}
    post = PostFactory()
    member = UserFactory()
    header = bearer(member)
    APIClient().get(f"/api/v1/posts/{post.pk}")

    served = [fast_get(f"/api/v1/posts/{post.pk}", authorization=header)[0].calls for _ in range(4)]

    assert served == [0, 0, 0, 1]
    window = current_window("user", f"user:{member.pk}", configured_rate("user"))
    # The fourth hit was given back for Django to count (and refuse with its 429).
    assert django_cache().get(window.key) == 3
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    refused = client.get(f"/api/v1/posts/{post.pk}")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused["RateLimit-Remaining"] == "0"


def test_a_request_sent_on_to_django_is_not_counted_twice(settings: Any) -> None:
    post = PostFactory()
    APIClient().get(f"/api/v1/posts/{post.pk}")
    window = current_window("anon", "ip:127.0.0.1", configured_rate("anon"))
    before = django_cache().get(window.key) or 0
    PostFactory()  # moves the feed on, not this post's detail
    post.title = "changed"
    post.save()
    from content.read_cache import post_invalidate

    post_invalidate(post.pk)

    assert fast_get(f"/api/v1/posts/{post.pk}")[0].calls == 1
    assert (django_cache().get(window.key) or 0) == before


def django_cache() -> Any:
    from django.core.cache import cache

    return cache


def test_through_django_a_member_without_drafts_reads_the_shared_page_in_one_query(
    django_assert_num_queries: Any,
) -> None:
    PostFactory()
    client, _ = client_of(UserFactory())
    client.get("/api/v1/posts?limit=20")

    # The user and their login; the draft count and the page come from the cache.
    with django_assert_num_queries(1):
        response = client.get("/api/v1/posts?limit=20")
    assert response["X-Cache"] == "hit"
