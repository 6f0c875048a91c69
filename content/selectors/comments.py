"""Reads of comments: live comments on live posts the caller may read."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery, UUIDField

from accounts.models import is_admin
from content.models import LIVE, Comment, Post
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


def post_for_comment_create(
    *, actor: Any, post_id: uuid.UUID | str, parent_id: uuid.UUID | None = None
) -> tuple[Post, Comment | None] | None:
    """What a new comment needs, in one query: the live post the actor may read (with just
    the fields commenting uses), and, given `parent_id`, the live comment on that post it
    replies to, or None when there is no such comment. None when there is no such post.

    The parent comes back as a Comment holding its id, post and author, all a reply uses;
    its post's visibility is the post's own, checked by the same query.
    """
    post_id = parse_uuid(post_id)
    if post_id is None:
        return None
    posts = Post.objects.filter(LIVE, post_visibility(actor), pk=post_id)
    # The title goes into the notifications a comment causes (content.services.comments).
    posts = posts.only("id", "status", "author_id", "title").order_by()
    if parent_id is not None:
        parents = Comment.objects.filter(LIVE, pk=parent_id, post_id=OuterRef("pk"))
        # Typed as the users' key: a bare foreign key would come back from SQLite as hex text.
        author_id = Subquery(parents.values("author_id")[:1], output_field=UUIDField())
        posts = posts.annotate(parent_author_id=author_id)
    post = next(iter(posts[:1]), None)
    if post is None:
        return None
    if parent_id is None or post.parent_author_id is None:
        return post, None
    return post, Comment(id=parent_id, post_id=post.pk, author_id=post.parent_author_id)
