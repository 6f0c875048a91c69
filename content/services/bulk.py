"""Bulk writes: all or nothing, at most 500 items, each item checked and audited on its own.

Errors are collected for every item before anything is written and reported by index:
`{"items": {"<index>": {field: [messages]}}}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audits.services import audit_records_write
from config.core.errors import ValidationFailed
from content.models import LIVE, Post, PostAttachment
from content.selectors import post_visibility
from content.services.common import require_member, tag_names_clean, tags_ensure
from content.services.posts import post_apply, post_build, post_created, post_deleted
from content.services.uploads import attachments_clean

BULK_MAX_ITEMS = 500
NOT_FOUND = {"id": ["Not found."]}


def bulk_size_check(items: Sequence[Any], field: str = "items") -> None:
    if not items:
        raise ValidationFailed({field: ["Send at least one item."]})
    if len(items) > BULK_MAX_ITEMS:
        raise ValidationFailed({field: [f"At most {BULK_MAX_ITEMS} items per request."]})


@transaction.atomic
def posts_bulk_create(*, actor: User, items: Sequence[dict[str, Any]]) -> list[Post]:
    """Create every post of `items` (validated input: title, body, status, tags, attachments)
    or none."""
    bulk_size_check(items)
    require_member(actor)
    built: list[tuple[Post, list[str]]] = []
    errors: dict[str, Any] = {}
    for index, item in enumerate(items):
        try:
            names = tag_names_clean(item.get("tags") or [])
            fields = {k: v for k, v in item.items() if k not in ("tags", "attachments")}
            post = post_build(actor=actor, **fields)
            post.attachment_list = attachments_clean(
                actor=actor, upload_ids=item.get("attachments") or []
            )
            built.append((post, names))
        except ValidationFailed as exc:
            errors[str(index)] = exc.details
    _raise_if(errors)
    posts = Post.objects.bulk_create([post for post, _ in built])
    tags_ensure(sorted({name for _, names in built for name in names}))
    Post.tags.through.objects.bulk_create(
        [Post.tags.through(post_id=post.pk, tag_id=name) for post, names in built for name in names]
    )
    PostAttachment.objects.bulk_create(
        [
            PostAttachment(post_id=post.pk, upload_id=upload.pk, position=position)
            for post, _ in built
            for position, upload in enumerate(post.attachment_list)
        ]
    )
    post_created(built, actor=actor)
    return posts


@transaction.atomic
def posts_bulk_update(*, actor: User, items: Sequence[dict[str, Any]]) -> list[Post]:
    """Apply each item's fields to the post with its `id`, or change nothing."""
    bulk_size_check(items)
    require_member(actor)
    posts = _changeable(actor, [item["id"] for item in items])
    errors: dict[str, Any] = {}
    seen: set[Any] = set()
    for index, item in enumerate(items):
        if item["id"] not in posts:
            errors[str(index)] = NOT_FOUND
        elif item["id"] in seen:
            errors[str(index)] = {"id": ["This post appears twice in the request."]}
        seen.add(item["id"])
    _raise_if(errors)
    updated, events = [], []
    for index, item in enumerate(items):
        fields = {k: v for k, v in item.items() if k != "id"}
        try:
            with transaction.atomic():
                post, event = post_apply(actor=actor, post=posts[item["id"]], fields=fields)
        except ValidationFailed as exc:
            errors[str(index)] = exc.details
            continue
        updated.append(post)
        events += [event] if event is not None else []
    _raise_if(errors)
    audit_records_write(events=events)
    return updated


@transaction.atomic
def posts_bulk_delete(*, actor: User, ids: Sequence[Any]) -> int:
    """Soft-delete every post of `ids`, or none; returns how many were deleted."""
    bulk_size_check(ids, "ids")
    require_member(actor)
    posts = _changeable(actor, list(ids))
    errors = {str(i): NOT_FOUND for i, post_id in enumerate(ids) if post_id not in posts}
    _raise_if(errors)
    unique_ids = list(dict.fromkeys(ids))
    Post.objects.filter(pk__in=unique_ids).update(deleted_at=timezone.now(), deleted_by=actor)
    post_deleted(unique_ids, actor=actor)
    return len(unique_ids)


def _changeable(actor: User, ids: list[Any]) -> dict[Any, Post]:
    """The live posts among `ids` the actor may see and change, locked, by id."""
    posts = Post.objects.filter(LIVE, post_visibility(actor), pk__in=ids)
    if not actor.is_admin:
        posts = posts.filter(author_id=actor.pk)
    return {post.pk: post for post in posts.select_for_update().prefetch_related("tags")}


def _raise_if(errors: dict[str, Any]) -> None:
    if errors:
        raise ValidationFailed({"items": dict(sorted(errors.items(), key=lambda e: int(e[0])))})
