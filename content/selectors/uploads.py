"""Reads of uploads, scoped to the caller: an upload is readable by its owner and admins, and by
anyone once it is attached to a post they can read (a live one: published or archived, or
their own draft). Anything else is None, which the API answers with 404."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.db.models import Q, QuerySet

from accounts.models import is_admin
from content.models import Post, PostAttachment, Upload
from content.selectors.visibility import parse_uuid, post_visibility

# What a representation reads: the owner's public fields, never the whole user row.
UPLOAD_FIELDS = (
    "id",
    "name",
    "content_type",
    "size",
    "sha256",
    "kind",
    "file",
    "thumbnails",
    "created_at",
    "owner__id",
    "owner__username",
)


def upload_visibility(actor: Any) -> Q:
    """Uploads `actor` may read."""
    if is_admin(actor):
        return Q()
    on_readable_posts = PostAttachment.objects.filter(
        post_visibility(actor, prefix="post__"), post__deleted_at__isnull=True
    ).values("upload_id")
    readable = Q(pk__in=on_readable_posts)
    if actor is not None and actor.is_authenticated:
        return readable | Q(owner_id=actor.pk)
    return readable


def upload_get(*, actor: Any, upload_id: uuid.UUID | str) -> Upload | None:
    upload_id = parse_uuid(upload_id)
    if upload_id is None:
        return None
    uploads = Upload.objects.select_related("owner").only(*UPLOAD_FIELDS)
    return uploads.filter(upload_visibility(actor), pk=upload_id).first()


def upload_list(*, actor: Any) -> QuerySet[Upload]:
    """The caller's own uploads (admins too see only their own here)."""
    return Upload.objects.filter(owner_id=actor.pk).select_related("owner").only(*UPLOAD_FIELDS)


def attachments_attach(posts: Sequence[Post]) -> Sequence[Post]:
    """Give each post `attachment_list` (its uploads, in order) from one query."""
    uploads: dict[Any, list[Upload]] = {post.pk: [] for post in posts}
    if uploads:
        links = (
            PostAttachment.objects.filter(post_id__in=list(uploads))
            .select_related("upload__owner")
            .only("post_id", *(f"upload__{field}" for field in UPLOAD_FIELDS))
            .order_by("post_id", "position")
        )
        for link in links:
            uploads[link.post_id].append(link.upload)
    for post in posts:
        post.attachment_list = uploads[post.pk]
    return posts
