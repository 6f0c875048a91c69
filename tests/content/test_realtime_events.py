"""Content writes announce themselves to WebSocket rooms after commit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from rest_framework.test import APIClient

from realtime.broadcast import room_group
from tests.content.factories import CommentFactory, PostFactory

pytestmark = pytest.mark.django_db(transaction=True)


class Listener:
    """A channel-layer member of one room, as a consumer would be."""

    def __init__(self, room: str) -> None:
        self.layer = get_channel_layer()
        self.group = room_group(room)
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(self.group, self.channel)

    def next(self) -> dict[str, Any]:
        async def receive() -> dict[str, Any]:
            return await asyncio.wait_for(self.layer.receive(self.channel), timeout=5)

        return async_to_sync(receive)()

    def close(self) -> None:
        async_to_sync(self.layer.group_discard)(self.group, self.channel)


@pytest.fixture
def listen() -> Any:
    listeners: list[Listener] = []

    def start(room: str) -> Listener:
        listeners.append(Listener(room))
        return listeners[-1]

    yield start
    for listener in listeners:
        listener.close()


def test_new_comment_reaches_the_post_room(author_client: APIClient, listen: Any) -> None:
    post = PostFactory()
    room = listen(f"post:{post.pk}")

    created = author_client.post(
        f"/api/v1/posts/{post.pk}/comments",
        {"body": "Live 🎉"},
        format="json",
        HTTP_X_REQUEST_ID="req-comment-1",
    )

    message = room.next()
    assert message["event"] == "comment.created"
    assert message["data"] == created.json()
    assert message["request_id"] == "req-comment-1"


def test_comment_edit_and_delete_reach_the_post_room(
    author: Any, author_client: APIClient, listen: Any
) -> None:
    comment = CommentFactory(author=author)
    room = listen(f"post:{comment.post_id}")

    author_client.patch(f"/api/v1/comments/{comment.pk}", {"body": "neu"}, format="json")
    author_client.delete(f"/api/v1/comments/{comment.pk}")

    assert room.next()["event"] == "comment.updated"
    deleted = room.next()
    assert deleted["event"] == "comment.deleted"
    assert deleted["data"] == {"id": str(comment.pk), "post": str(comment.post_id)}


def test_publishing_reaches_the_feed_once(
    author: Any, author_client: APIClient, listen: Any
) -> None:
    feed = listen("feed")

    created = author_client.post("/api/v1/posts", {"title": "Entwurf"}, format="json").json()
    author_client.patch(f"/api/v1/posts/{created['id']}", {"status": "published"}, format="json")
    author_client.patch(f"/api/v1/posts/{created['id']}", {"title": "Edited"}, format="json")

    message = feed.next()
    assert message["event"] == "post.published"
    assert message["data"]["id"] == created["id"]
    with pytest.raises(TimeoutError):
        async_to_sync(asyncio.wait_for)(feed.layer.receive(feed.channel), timeout=0.5)


def test_a_refused_write_announces_nothing(other_client: APIClient, listen: Any) -> None:
    comment = CommentFactory()
    room = listen(f"post:{comment.post_id}")

    assert other_client.delete(f"/api/v1/comments/{comment.pk}").status_code == 403

    with pytest.raises(TimeoutError):
        async_to_sync(asyncio.wait_for)(room.layer.receive(room.channel), timeout=0.5)
