"""Reads of comments: live comments on live posts the caller may read."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet

from accounts.models import is_admin
from content.models import LIVE, Comment
from content.selectors.visibility import parse_uuid, post_visibility

COMMENT_FIELDS = (
    "id",
    "post_id",
    "parent_id",
    "body",
    "created_at",
    "updated_at",
    "deleted_at",
    "author__id",
    "author__username",
    "author__display_name",
)


def comment_list(*, actor: Any) -> QuerySet[Comment]:
    return (
        Comment.objects.filter(LIVE, post__deleted_at__isnull=True)
        .filter(post_visibility(actor, prefix="post__"))
        .select_related("author")
        .only(*COMMENT_FIELDS)
    )


def comment_get(
    *, actor: Any, comment_id: uuid.UUID | str, include_deleted: bool = False
) -> Comment | None:
    """A comment the actor may read; deleted ones only with `include_deleted`, for their
    author and admins."""
    comment_id = parse_uuid(comment_id)
    if comment_id is None:
        return None
    comments = (
        Comment.objects.filter(post__deleted_at__isnull=True)
        .filter(post_visibility(actor, prefix="post__"))
        .select_related("author", "post")
    )
    if not include_deleted:
        comments = comments.filter(LIVE)
    elif not is_admin(actor):
        if not actor.is_authenticated:
            comments = comments.filter(LIVE)
        else:
            comments = comments.filter(LIVE | Q(author_id=actor.pk))
    return comments.filter(pk=comment_id).first()
