"""Writes to comments. The post's `comment_count` moves in the same transaction."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from audits.services import (
    AuditEvent,
    audit_changes,
    audit_record_write,
    audit_records_inserted,
    audit_records_prepare,
)
from config.core.errors import ValidationFailed
from config.core.statements import Statement, insert_statement, instances_saved, statements_run
from content import read_cache
from content.exceptions import PostArchived
from content.models import Comment, Post, PostStatus
from content.representations import comment_notification_data, comment_representation
from content.services.common import (
    after_commit,
    broadcast_after_commit,
    require_member,
    require_owner_or_admin,
    validate_model,
)
from realtime.models import NotificationKind
from realtime.services import NotificationDraft, notifications_inserted, notifications_prepare

TARGET = "comment"


def comment_create(*, actor: User, post: Post, body: str, parent: Comment | None = None) -> Comment:
    """A comment, or a reply to `parent` (a live comment on the same post).

    The comment, its post's count, its audit record and its notifications are one batch of
    plain statements (`config.core.statements`: one round trip on PostgreSQL, all or none);
    the cache bump, the events and the audit seal follow the commit. Comments send no model
    signals and have no `save()` of their own, so nothing is skipped.
    """
    require_member(actor)
    if post.status == PostStatus.ARCHIVED:
        raise PostArchived()
    if parent is not None and (parent.post_id != post.pk or parent.deleted_at is not None):
        raise ValidationFailed({"parent": ["Not a comment on this post."]})
    comment = Comment(post=post, parent=parent, author=actor, body=body)
    validate_model(comment)
    statements = [insert_statement([comment]), _count_statement(post.pk, +1)]
    records = audit_records_prepare(
        events=[
            AuditEvent(
                action="comment.created",
                target_type=TARGET,
                target_id=comment.pk,
                actor=actor,
                changes=audit_changes(
                    {}, {"post": str(post.pk), "parent": parent and str(parent.pk), "body": body}
                ),
            )
        ]
    )
    statements.append(insert_statement(records))
    notifications = notifications_prepare(
        drafts=_notification_drafts(comment, post=post, parent=parent, actor=actor)
    )
    if notifications:
        statements.append(insert_statement(notifications))
    statements_run(statements)
    instances_saved([comment, *records, *notifications])
    _count_moved(post.pk)
    _announce(comment, "comment.created")
    notifications_inserted(notifications)
    audit_records_inserted()
    return comment


@transaction.atomic
def comment_update(*, actor: User, comment: Comment, body: str) -> Comment:
    require_owner_or_admin(actor, comment.author_id)
    before = comment.body
    comment.body = body
    validate_model(comment)
    comment.save(update_fields=["body", "updated_at"])
    changes = audit_changes({"body": before}, {"body": body})
    if changes:
        audit_record_write(
            action="comment.updated",
            target_type=TARGET,
            target_id=comment.pk,
            actor=actor,
            changes=changes,
        )
    _announce(comment, "comment.updated")
    return comment


@transaction.atomic
def comment_delete(*, actor: User, comment: Comment) -> None:
    """Soft delete; replies stay, and clients show the thread with a gap."""
    require_owner_or_admin(actor, comment.author_id)
    updated = Comment.objects.filter(pk=comment.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), deleted_by=actor
    )
    if not updated:
        return
    _count_move(comment.post_id, -1)
    audit_record_write(
        action="comment.deleted",
        target_type=TARGET,
        target_id=comment.pk,
        actor=actor,
        changes={"deleted": [False, True]},
    )
    post_id, comment_id = comment.post_id, comment.pk
    broadcast_after_commit(
        f"post:{post_id}", "comment.deleted", {"id": str(comment_id), "post": str(post_id)}
    )


@transaction.atomic
def comment_restore(*, actor: User, comment: Comment) -> Comment:
    require_owner_or_admin(actor, comment.author_id)
    updated = Comment.objects.filter(pk=comment.pk, deleted_at__isnull=False).update(
        deleted_at=None, deleted_by=None
    )
    comment.refresh_from_db()
    if updated:
        _count_move(comment.post_id, +1)
        audit_record_write(
            action="comment.restored",
            target_type=TARGET,
            target_id=comment.pk,
            actor=actor,
            changes={"deleted": [True, False]},
        )
        _announce(comment, "comment.created")
    return comment


def _count_move(post_id: object, delta: int) -> None:
    statements_run([_count_statement(post_id, delta)])
    _count_moved(post_id)


def _count_statement(post_id: object, delta: int) -> Statement:
    """The post's `comment_count` moves by `delta` (with the write that moves it)."""
    quote = connection.ops.quote_name
    return (
        # The model's own table name; values as parameters.
        f"UPDATE {quote(Post._meta.db_table)} SET comment_count = comment_count + %s "  # noqa: S608  # nosec B608
        "WHERE id = %s",
        [delta, Post._meta.pk.get_db_prep_value(post_id, connection)],
    )


def _count_moved(post_id: object) -> None:
    after_commit(lambda: read_cache.post_comments_changed(post_id))


def _announce(comment: Comment, event: str) -> None:
    broadcast_after_commit(f"post:{comment.post_id}", event, comment_representation(comment))


def _notification_drafts(
    comment: Comment, *, post: Post, parent: Comment | None, actor: User
) -> list[NotificationDraft]:
    """Tell the parent comment's author of a reply and the post's author of a comment: one
    notification per person (a reply to the post author's own comment is a
    `reply_to_comment` only), never to the actor. The authors' ids are columns of the rows at
    hand, so this queries nothing."""
    kinds: dict[Any, str] = {}
    if parent is not None:
        kinds[parent.author_id] = NotificationKind.REPLY_TO_COMMENT
    kinds.setdefault(post.author_id, NotificationKind.COMMENT_ON_POST)
    kinds.pop(actor.pk, None)
    if not kinds:
        return []
    data = comment_notification_data(comment, post=post, actor=actor)
    return [
        NotificationDraft(recipient_id=recipient_id, kind=kind, data=data)
        for recipient_id, kind in kinds.items()
    ]
