"""Plain representations of posts and comments: the API's output and the realtime events' data.

Plain functions, not DRF serializers: they are on every hot path, cost a fraction of DRF's
field machinery, and services build the events they broadcast with them. The output
serializers in content.serializers render through them and describe them for the schema.
"""

from __future__ import annotations

from typing import Any

from config.core.representations import iso_time
from content.models import Comment, Post
from realtime.models import NOTIFICATION_EXCERPT_MAX_LENGTH


def post_tag_names(post: Post) -> list[str]:
    """Sorted tag names: attached by the list selectors, or read for a single post."""
    attached = getattr(post, "tag_names", None)
    if attached is not None:
        return attached
    return sorted(tag.name for tag in post.tags.all())


def author_representation(user: Any) -> dict[str, Any]:
    return {"id": str(user.pk), "username": user.username, "display_name": user.display_name}


def post_representation(post: Post) -> dict[str, Any]:
    return {
        "id": str(post.pk),
        "title": post.title,
        "body": post.body,
        "status": post.status,
        "tags": post_tag_names(post),
        "author": author_representation(post.author),
        "comment_count": post.comment_count,
        "created_at": iso_time(post.created_at),
        "updated_at": iso_time(post.updated_at),
        "published_at": iso_time(post.published_at),
    }


def comment_representation(comment: Comment) -> dict[str, Any]:
    return {
        "id": str(comment.pk),
        "post": str(comment.post_id),
        "parent": str(comment.parent_id) if comment.parent_id else None,
        "body": comment.body,
        "author": author_representation(comment.author),
        "created_at": iso_time(comment.created_at),
        "updated_at": iso_time(comment.updated_at),
    }


def text_excerpt(text: str, limit: int = NOTIFICATION_EXCERPT_MAX_LENGTH) -> str:
    """The start of `text` on one line (whitespace collapsed), at most `limit` characters; a
    cut one ends with an ellipsis."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    return line[: limit - 1].rstrip() + "…"


def comment_notification_data(comment: Comment, *, post: Post, actor: Any) -> dict[str, Any]:
    """The `data` of a `comment_on_post` or `reply_to_comment` notification: enough to show
    it ("Zoë replied on «title»: …") and link to the comment without another request."""
    return {
        "post": {"id": str(post.pk), "title": post.title},
        "comment": {
            "id": str(comment.pk),
            "parent": str(comment.parent_id) if comment.parent_id else None,
            "excerpt": text_excerpt(comment.body),
        },
        "actor": {"id": str(actor.pk), "username": actor.username},
    }
