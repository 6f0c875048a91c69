"""Writes to posts. Each is one transaction with its audit record; cache invalidation and
realtime events follow the commit."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audits.services import AuditEvent, audit_changes, audit_record_write, audit_records_write
from content import read_cache
from content.models import Post, PostStatus
from content.representations import post_attachments, post_representation
from content.services.common import (
    after_commit,
    broadcast_after_commit,
    require_member,
    require_owner_or_admin,
    tag_names_clean,
    tags_ensure,
    validate_model,
)
from content.services.uploads import attachments_clean, attachments_set

EDITABLE_FIELDS = ("title", "body", "status", "tags", "attachments")
TARGET = "post"


def post_snapshot(post: Post, tags: list[str] | None = None) -> dict[str, Any]:
    """The audited fields of a post."""
    return {
        "title": post.title,
        "body": post.body,
        "status": post.status,
        "tags": tags if tags is not None else sorted(t.name for t in post.tags.all()),
        "attachments": [str(upload.pk) for upload in post_attachments(post)],
        "published_at": post.published_at,
    }


def post_build(*, actor: User, title: str, body: str = "", status: str = PostStatus.DRAFT) -> Post:
    """An unsaved, validated post by `actor` (shared by single and bulk creation)."""
    require_member(actor)
    post = Post(author=actor, title=title, body=body, status=status)
    if status != PostStatus.DRAFT:
        post.published_at = timezone.now()
    validate_model(post)
    return post


def post_created(posts: list[tuple[Post, list[str]]], *, actor: User) -> None:
    """The audit records (one per post, one append) and after-commit effects of posts that
    were just inserted, each with its tag names."""
    audit_records_write(
        events=[
            AuditEvent(
                action="post.created",
                target_type=TARGET,
                target_id=post.pk,
                actor=actor,
                changes=audit_changes({}, post_snapshot(post, tags)),
            )
            for post, tags in posts
        ]
    )
    for post, _ in posts:
        _after_post_write(post, newly_published=post.status == PostStatus.PUBLISHED)


@transaction.atomic
def post_create(
    *,
    actor: User,
    title: str,
    body: str = "",
    status: str = PostStatus.DRAFT,
    tags: list[str] | None = None,
    attachments: list[Any] | None = None,
) -> Post:
    """A post by `actor`; `attachments` are ids of the actor's own uploads (at most 10)."""
    names = tag_names_clean(tags or [])
    post = post_build(actor=actor, title=title, body=body, status=status)
    uploads = attachments_clean(actor=actor, upload_ids=attachments or [])
    post.save()
    post.tags.set(tags_ensure(names))
    attachments_set(post, uploads, replace=False)
    post_created([(post, names)], actor=actor)
    return post


@transaction.atomic
def post_update(*, actor: User, post: Post, **fields: Any) -> Post:
    """Change any of title, body, status, tags and attachments (ids of the actor's own uploads,
    or of those the post already shows). Publishing stamps `published_at` once."""
    require_owner_or_admin(actor, post.author_id)
    post = Post.objects.select_for_update().get(pk=post.pk)
    post, event = post_apply(actor=actor, post=post, fields=fields)
    if event is not None:
        audit_records_write(events=[event])
    return post


def post_apply(
    *, actor: User, post: Post, fields: dict[str, Any]
) -> tuple[Post, AuditEvent | None]:
    """Apply `fields` to a locked post the actor may change.

    Returns the audit event for the caller to append last in its transaction (None when
    nothing changed): the chain's lock is then held only until the commit.
    """
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {sorted(unknown)}")
    fields = dict(fields)
    post.attachment_list = post_attachments(post)
    before = post_snapshot(post)
    names = tag_names_clean(fields.pop("tags")) if "tags" in fields else None
    uploads = None
    if "attachments" in fields:
        uploads = attachments_clean(actor=actor, upload_ids=fields.pop("attachments"), post=post)
    for name, value in fields.items():
        setattr(post, name, value)
    newly_published = False
    if post.status != PostStatus.DRAFT and post.published_at is None:
        post.published_at = timezone.now()
        newly_published = post.status == PostStatus.PUBLISHED
    validate_model(post)
    post.save()
    if names is not None:
        post.tags.set(tags_ensure(names))
    if uploads is not None and uploads != post.attachment_list:
        attachments_set(post, uploads)
    _after_post_write(post, newly_published=newly_published)
    changes = audit_changes(before, post_snapshot(post, names))
    if not changes:
        return post, None
    event = AuditEvent(
        action="post.updated", target_type=TARGET, target_id=post.pk, actor=actor, changes=changes
    )
    return post, event


@transaction.atomic
def post_delete(*, actor: User, post: Post) -> None:
    """Soft delete: the post leaves every list and answers 404 to all but admins."""
    require_owner_or_admin(actor, post.author_id)
    updated = Post.objects.filter(pk=post.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), deleted_by=actor
    )
    if not updated:
        return
    post_deleted([post.pk], actor=actor)


def post_deleted(post_ids: list[Any], *, actor: User) -> None:
    """The audit records and after-commit effects of posts that were just soft-deleted."""
    audit_records_write(
        events=[
            AuditEvent(
                action="post.deleted",
                target_type=TARGET,
                target_id=post_id,
                actor=actor,
                changes={"deleted": [False, True]},
            )
            for post_id in post_ids
        ]
    )
    for post_id in post_ids:
        after_commit(lambda post_id=post_id: read_cache.post_invalidate(post_id))


@transaction.atomic
def post_restore(*, actor: User, post: Post) -> Post:
    require_owner_or_admin(actor, post.author_id)
    updated = Post.objects.filter(pk=post.pk, deleted_at__isnull=False).update(
        deleted_at=None, deleted_by=None
    )
    if updated:
        audit_record_write(
            action="post.restored",
            target_type=TARGET,
            target_id=post.pk,
            actor=actor,
            changes={"deleted": [True, False]},
        )
        after_commit(lambda: read_cache.post_invalidate(post.pk))
    return Post.objects.select_related("author").prefetch_related("tags").get(pk=post.pk)


def _after_post_write(post: Post, *, newly_published: bool) -> None:
    after_commit(lambda: read_cache.post_invalidate(post.pk))
    if newly_published:
        broadcast_after_commit("feed", "post.published", post_representation(post))
