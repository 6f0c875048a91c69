"""Who may read which post, and ids as the URL gives them: what every content selector shares."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q

from accounts.models import is_admin
from content.models import PUBLIC_STATUSES


def post_visibility(actor: Any, *, prefix: str = "") -> Q:
    """Posts `actor` may read: published and archived ones, their own drafts; admins all."""
    if is_admin(actor):
        return Q()
    public = Q(**{f"{prefix}status__in": PUBLIC_STATUSES})
    if actor is not None and actor.is_authenticated:
        return public | Q(**{f"{prefix}author_id": actor.pk})
    return public


def post_readable(actor: Any, *, status: str, author_id: Any) -> bool:
    """`post_visibility` for one post's values in hand (a query that fetched them by key):
    the same rule, kept next to it and tested against it."""
    if is_admin(actor):
        return True
    if status in PUBLIC_STATUSES:
        return True
    return actor is not None and actor.is_authenticated and actor.pk == author_id


def parse_uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
