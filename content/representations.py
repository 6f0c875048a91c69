"""Plain representations of posts, comments and uploads: the API's output and the data of the
realtime events.

Plain functions, not DRF serializers: they are on every hot path, cost a fraction of DRF's
field machinery, and services build the events they broadcast with them. The output
serializers in content.serializers render through them and describe them for the schema.
"""

from __future__ import annotations

from typing import Any

from config.core.representations import api_url, iso_time
from content.models import Comment, Post, PostAttachment, Upload
from realtime.models import NOTIFICATION_EXCERPT_MAX_LENGTH


def post_tag_names(post: Post) -> list[str]:
    """Sorted tag names: attached by the list selectors, or read for a single post."""
    attached = getattr(post, "tag_names", None)
    if attached is not None:
        return attached
    return sorted(tag.name for tag in post.tags.all())


def author_representation(user: Any) -> dict[str, Any]:
    return {"id": str(user.pk), "username": user.username, "display_name": user.display_name}


def upload_content_path(upload_id: Any) -> str:
    return f"uploads/{upload_id}/content"


def upload_thumbnail_path(upload_id: Any, size: int | str) -> str:
    return f"uploads/{upload_id}/thumbnails/{size}"


def upload_representation(upload: Upload) -> dict[str, Any]:
    thumbnails = sorted(upload.thumbnails or {}, key=int)
    return {
        "id": str(upload.pk),
        "name": upload.name,
        "content_type": upload.content_type,
        "size": upload.size,
        "sha256": upload.sha256,
        "url": api_url(upload_content_path(upload.pk)),
        "kind": upload.kind,
        "thumbnails": {
            size: api_url(upload_thumbnail_path(upload.pk, size)) for size in thumbnails
        },
        "owner": {"id": str(upload.owner_id), "username": upload.owner.username},
        "created_at": iso_time(upload.created_at),
    }


def post_attachments(post: Post) -> list[Upload]:
    """The post's uploads in order: attached by the selectors, or read for a single post."""
    attached = getattr(post, "attachment_list", None)
    if attached is not None:
        return attached
    links = PostAttachment.objects.filter(post_id=post.pk).select_related("upload__owner")
    return [link.upload for link in links.order_by("position")]


def post_representation(post: Post) -> dict[str, Any]:
    return {
        "id": str(post.pk),
        "title": post.title,
        "body": post.body,
        "status": post.status,
        "tags": post_tag_names(post),
        "attachments": [upload_representation(upload) for upload in post_attachments(post)],
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
