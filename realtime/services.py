"""Writes of notifications: create (and push), mark read, purge.

Any app may call these (content for comments, tasks for finished jobs); the push to the
recipient's `user:<id>` room follows the commit, and its failure never undoes the write.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.core.errors import ValidationFailed
from realtime.broadcast import broadcast
from realtime.models import NOTIFICATION_RETENTION_DAYS, UNREAD, Notification, NotificationKind
from realtime.representations import notification_representation

logger = logging.getLogger("agora.realtime")

NOTIFICATION_EVENT = "notification"
MARK_READ_MAX_IDS = 500


@dataclass(frozen=True)
class NotificationDraft:
    """A notification to write. `data` holds JSON values only (ids as strings)."""

    recipient_id: uuid.UUID | str
    kind: str
    data: dict[str, Any]


def notification_create(
    *, recipient_id: uuid.UUID | str, kind: str, data: dict[str, Any]
) -> Notification:
    """Write one notification; it is pushed as a `notification` event after commit."""
    (notification,) = notifications_create(
        drafts=[NotificationDraft(recipient_id=recipient_id, kind=kind, data=data)]
    )
    return notification


def notifications_create(*, drafts: Sequence[NotificationDraft]) -> list[Notification]:
    """Write several notifications in one INSERT; each is pushed to its recipient after commit.

    One INSERT is atomic by itself: outside a transaction a single notification opens none
    (no BEGIN and COMMIT round trips), and is pushed right after it.
    """
    notifications = notifications_prepare(drafts=drafts)
    if len(notifications) == 1:
        notifications[0].save(force_insert=True)
    else:
        Notification.objects.bulk_create(notifications)
    notifications_inserted(notifications)
    return notifications


def notifications_prepare(*, drafts: Sequence[NotificationDraft]) -> list[Notification]:
    """The unsaved notifications of `drafts`, for a caller that inserts them with its own
    statements (`config.core.statements`) and then calls `notifications_inserted`;
    `notifications_create` is the same in one call."""
    unknown = sorted({draft.kind for draft in drafts} - set(NotificationKind.values))
    if unknown:
        raise ValueError(f"Not a notification kind: {unknown}")
    return [
        Notification(
            recipient_id=draft.recipient_id,
            # The plain value, so the pushed event carries a str rather than the enum.
            kind=NotificationKind(draft.kind).value,
            data=draft.data,
        )
        for draft in drafts
    ]


def notifications_inserted(notifications: Sequence[Notification]) -> None:
    """Notifications were inserted in the current transaction: push each once it commits."""
    for notification in notifications:
        transaction.on_commit(lambda n=notification: _push(n), robust=True)


def _push(notification: Notification) -> None:
    broadcast(
        f"user:{notification.recipient_id}",
        NOTIFICATION_EVENT,
        notification_representation(notification),
    )


def notifications_mark_read(
    *, actor: Any, ids: Sequence[uuid.UUID | str] | None = None, all: bool = False
) -> int:
    """Mark the actor's notifications read: those of `ids`, or `all` of them (exactly one of
    the two). Returns how many went from unread to read; ids of notifications that are
    someone else's, unknown or already read count nothing. One UPDATE."""
    if ids is None and not all:
        raise ValidationFailed({"non_field_errors": ['Send "ids" or "all": true.']})
    if ids is not None and all:
        raise ValidationFailed({"non_field_errors": ['Send "ids" or "all": true, not both.']})
    unread = Notification.objects.filter(UNREAD, recipient_id=actor.pk)
    if ids is not None:
        wanted = _uuids(ids)
        if not wanted:
            return 0
        unread = unread.filter(pk__in=wanted)
    return unread.update(read_at=timezone.now())


def _uuids(ids: Sequence[uuid.UUID | str]) -> list[uuid.UUID]:
    if isinstance(ids, str | bytes) or len(ids) > MARK_READ_MAX_IDS:
        raise ValidationFailed({"ids": [f"A list of at most {MARK_READ_MAX_IDS} ids."]})
    parsed: list[uuid.UUID] = []
    for value in ids:
        try:
            parsed.append(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
        except ValueError:
            raise ValidationFailed({"ids": [f"Not a notification id: {value!r}."]}) from None
    return list(dict.fromkeys(parsed))


def notifications_purge(*, older_than_days: int = NOTIFICATION_RETENTION_DAYS) -> int:
    """Delete notifications created more than `older_than_days` ago, read or not; returns how
    many. Scheduled daily (tasks.notifications_purge)."""
    if older_than_days < 0:
        raise ValueError("older_than_days must be zero or more")
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = Notification.objects.filter(created_at__lt=cutoff).delete()
    logger.info("notifications purged", extra={"deleted": deleted, "before": cutoff.isoformat()})
    return deleted
