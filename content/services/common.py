"""What every content write shares: who may write, validation, tags, and after-commit events."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction

from accounts.exceptions import EmailNotVerified
from accounts.models import User
from config.core.errors import PermissionDenied, ValidationFailed
from content.exceptions import NotAuthorOrAdmin
from content.models import TAG_MAX_LENGTH, TAGS_PER_POST_MAX, Tag
from realtime.broadcast import broadcast

logger = logging.getLogger("agora.content")

# Fields a constraint-only check would need a query for; the database enforces them anyway.
_CLEAN_EXCLUDE = {"author", "deleted_by", "post", "parent", "tags", "search_vector"}


def require_member(actor: User) -> None:
    """Writing content needs a verified account, whatever the entry point (API, admin, task)."""
    if actor.is_guest:
        raise EmailNotVerified()
    if not actor.is_active or not actor.is_member:
        raise PermissionDenied()


def require_owner_or_admin(actor: User, author_id: Any) -> None:
    require_member(actor)
    if not actor.is_admin and actor.pk != author_id:
        raise NotAuthorOrAdmin()


def validate_model(instance: models.Model) -> None:
    """The model's field validators (lengths, control characters) as a 400, for every caller."""
    try:
        instance.full_clean(
            exclude=_CLEAN_EXCLUDE, validate_unique=False, validate_constraints=False
        )
    except DjangoValidationError as exc:
        raise ValidationFailed(exc.message_dict) from None


def tag_names_clean(names: Iterable[str]) -> list[str]:
    """Tags as stored: NFC, trimmed, lower case, unique in their first-seen order."""
    cleaned: list[str] = []
    for raw in names:
        if not isinstance(raw, str):
            raise ValidationFailed({"tags": ["Each tag must be a string."]})
        name = unicodedata.normalize("NFC", raw).strip().lower()
        if (
            not name
            or len(name) > TAG_MAX_LENGTH
            or not all(c.isalnum() or c in "-_ " for c in name)
        ):
            raise ValidationFailed(
                {"tags": [f"Tags are 1 to {TAG_MAX_LENGTH} letters, digits, spaces, - or _."]}
            )
        if name not in cleaned:
            cleaned.append(name)
    if len(cleaned) > TAGS_PER_POST_MAX:
        raise ValidationFailed({"tags": [f"At most {TAGS_PER_POST_MAX} tags."]})
    return cleaned


def tags_ensure(names: list[str]) -> list[str]:
    """Create the Tag rows of `names` that are missing (concurrent creators do not clash);
    returns the names, which are the tags' keys."""
    if names:
        Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
    return names


def after_commit(action: Callable[[], Any]) -> None:
    """Run a side effect once the write is committed; its failure never undoes the write."""
    transaction.on_commit(action, robust=True)


def broadcast_after_commit(room: str, event: str, data: dict[str, Any]) -> None:
    after_commit(lambda: broadcast(room, event, data))
