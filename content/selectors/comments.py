"""Reads of comments: live comments on live posts the caller may read."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import connection
from django.db.models import Model, Q, QuerySet

from accounts.models import is_admin
from content.models import LIVE, Comment, Post
from content.selectors.visibility import parse_uuid, post_readable, post_visibility

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

    The hot path of every comment, so one plain statement by primary key (building the
    equivalent queryset costs several times its round trip in CPU); who may read the post
    is decided by `post_readable`, the twin of `post_visibility`. The post comes back with
    its other fields deferred; the parent as a Comment holding its id, post and author, all
    a reply uses (its post's visibility is the post's own).
    """
    post_id = parse_uuid(post_id)
    if post_id is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.status, p.author_id, p.title, p.deleted_at IS NULL, "  # noqa: S608  # nosec B608
            f"(SELECT c.author_id FROM {Comment._meta.db_table} c WHERE c.id = %s "
            "AND c.post_id = p.id AND c.deleted_at IS NULL) "
            f"FROM {Post._meta.db_table} p WHERE p.id = %s",
            [_key(Comment, parent_id), _key(Post, post_id)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    status, author_id, title, live, parent_author_id = row
    author_key = Post._meta.get_field("author").target_field
    author_id = author_key.to_python(author_id)
    if not live or not post_readable(actor, status=status, author_id=author_id):
        return None
    known = {"id": post_id, "status": status, "author_id": author_id, "title": title}
    names = [field.attname for field in Post._meta.concrete_fields if field.attname in known]
    post = Post.from_db(connection.alias, names, [known[name] for name in names])
    if parent_id is None or parent_author_id is None:
        return post, None
    parent_author_id = author_key.to_python(parent_author_id)
    return post, Comment(id=parent_id, post_id=post_id, author_id=parent_author_id)


def _key(model: type[Model], value: uuid.UUID | None) -> Any:
    """A primary key as the database takes it in a plain statement."""
    return None if value is None else model._meta.pk.get_db_prep_value(value, connection)
