"""A notification reaches its recipient's open WebSocket connections, and only theirs."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from tests.content.factories import PostFactory
from tests.factories import UserFactory
from tests.realtime.helpers import ws_connect
from tests.realtime.notifications import URL, client_for

pytestmark = pytest.mark.django_db(transaction=True)


def comment(actor: Any, post: Any, body: str, **headers: str) -> dict[str, Any]:
    response = client_for(actor).post(
        f"/api/v1/posts/{post.pk}/comments", {"body": body}, format="json", **headers
    )
    assert response.status_code == 201, response.json()
    return response.json()


def listed(user: Any) -> list[dict[str, Any]]:
    return client_for(user).get(URL).json()["results"]


async def test_a_comment_on_your_post_arrives_as_a_notification_event(session_cookie) -> None:
    author, cookie = session_cookie
    post = await sync_to_async(PostFactory)(author=author, title="Zoë's «quoted» title ✨")
    commenter = await sync_to_async(UserFactory)(username="siobhán_o'brien")
    ws = await ws_connect(cookie=cookie)

    created = await sync_to_async(comment)(
        commenter, post, "Schön! 👍", HTTP_X_REQUEST_ID="req-notify-1"
    )
    frame = await ws.receive_json_from(timeout=5)

    [notification] = await sync_to_async(listed)(author)
    assert frame["type"] == "event"
    assert frame["room"] == f"user:{author.pk}"
    assert frame["event"] == "notification"
    assert frame["request_id"] == "req-notify-1"
    assert frame["data"] == notification
    assert frame["data"]["kind"] == "comment_on_post"
    assert frame["data"]["read"] is False
    assert frame["data"]["data"]["comment"]["id"] == created["id"]
    assert frame["data"]["data"]["actor"] == {
        "id": str(commenter.pk),
        "username": "siobhán_o'brien",
    }
    await ws.disconnect()


async def test_commenting_on_your_own_post_sends_you_nothing(session_cookie) -> None:
    author, cookie = session_cookie
    post = await sync_to_async(PostFactory)(author=author)
    ws = await ws_connect(cookie=cookie)

    await sync_to_async(comment)(author, post, "Nachtrag")

    assert await ws.receive_nothing(timeout=0.5)
    await ws.disconnect()


async def test_others_connections_do_not_get_your_notification(session_cookie) -> None:
    _bystander, cookie = session_cookie
    author, commenter = await sync_to_async(UserFactory)(), await sync_to_async(UserFactory)()
    post = await sync_to_async(PostFactory)(author=author)
    ws = await ws_connect(cookie=cookie)

    await sync_to_async(comment)(commenter, post, "Merci, très intéressant !")

    assert await ws.receive_nothing(timeout=0.5)
    await ws.disconnect()
