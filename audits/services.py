"""Writes of the audits app: appending to the chain, workflow edits, redaction.

Every other app's service calls `audit_record_write` (or `audit_records_write` for many events
at once) inside its own transaction, so the write and its record commit or roll back together.
Call it as the *last* write of the transaction: an append takes the chain lock (one row,
`AuditChainHead`), which is held until commit. Every other audited writer waits for it, and a
row locked after it could deadlock with a transaction that locked that row first.
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import math
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.functional import Promise
from rest_framework.exceptions import ValidationError
from uuid_utils.compat import uuid7

from accounts.models import User
from audits.chain import (
    GENESIS_HASH,
    REDACTION_ACTION,
    canonical_json,
    record_content_digest,
    record_link_hash,
)
from audits.models import (
    ACTION_MAX_LENGTH,
    REQUEST_ID_MAX_LENGTH,
    TARGET_ID_MAX_LENGTH,
    TARGET_TYPE_MAX_LENGTH,
    USER_AGENT_MAX_LENGTH,
    AuditChainHead,
    AuditRecord,
    AuditStatus,
)
from config.context import current_request_id, current_request_origin

AUDIT_TARGET = "audit"
UPDATE_ACTION = "audit.updated"

# The events the application itself records. External callers may not send these, so a
# service key cannot forge a login or a role change in the trail.
INTERNAL_ACTIONS = frozenset(
    {
        *(f"post.{verb}" for verb in ("created", "updated", "deleted", "restored")),
        *(f"comment.{verb}" for verb in ("created", "updated", "deleted", "restored")),
        *(
            f"user.{verb}"
            for verb in (
                "registered",
                "duplicate_registration",
                "created",
                "updated",
                "email_verified",
                "login_succeeded",
                "login_failed",
                "locked_out",
                "unlocked",
                "role_changed",
                "password_changed",
                "password_reset",
                "deactivated",
                "reactivated",
            )
        ),
        "token.reuse_detected",
        "api_key.created",
        "api_key.revoked",
        REDACTION_ACTION,
        UPDATE_ACTION,
    }
)


@dataclass(frozen=True)
class AuditEvent:
    """One record to append; see `audit_record_write` for the fields."""

    action: str
    target_type: str
    target_id: str | uuid.UUID
    actor: User | None = None
    changes: Mapping[str, Sequence[Any]] | None = None


def audit_record_write(
    *,
    action: str,
    target_type: str,
    target_id: str | uuid.UUID,
    actor: User | None = None,
    changes: dict[str, list[Any]] | None = None,
) -> AuditRecord:
    """Append one record to the chain, within the caller's transaction (see the module doc).

    `action` is `<target_type>.<verb>`; `changes` maps field → [old, new] and must never hold
    a secret. The request id, client address and user agent come from the request (or the
    task) in progress.
    """
    event = AuditEvent(action, target_type, target_id, actor, changes)
    return audit_records_write(events=[event])[0]


def audit_records_write(*, events: Sequence[AuditEvent]) -> list[AuditRecord]:
    """Append several records under one chain lock and one INSERT (bulk writes)."""
    if not events:
        return []
    checked = [_event_checked(event) for event in events]
    origin = current_request_origin()
    request_id = (current_request_id() or "")[:REQUEST_ID_MAX_LENGTH]
    ip = _client_ip(origin.ip)
    user_agent = _printable(origin.user_agent)[:USER_AGENT_MAX_LENGTH]
    records: list[AuditRecord] = []
    with transaction.atomic(savepoint=False):
        head = _chain_head_lock()
        for event, changes in checked:
            record = AuditRecord(
                id=uuid7(),
                sequence=head.sequence + 1,
                occurred_at=timezone.now(),
                actor=event.actor,
                action=event.action,
                target_type=event.target_type,
                target_id=str(event.target_id),
                changes=changes,
                request_id=request_id,
                ip=ip,
                user_agent=user_agent,
                content_salt=secrets.token_hex(16),
                prev_hash=head.hash,
            )
            record.content_digest = record_content_digest(record)
            record.hash = record_link_hash(record)
            head.sequence, head.hash = record.sequence, record.hash
            records.append(record)
        AuditRecord.objects.bulk_create(records)
        head.save(update_fields=["sequence", "hash"])
    return records


def audit_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """`{field: [old, new]}` for the fields whose values differ; a missing field is None.

    Values are made JSON-safe first (datetimes in ISO 8601 UTC, UUIDs and decimals as
    strings, sets as sorted lists, model instances as their primary key), so an equal value
    in another type does not count as a change.
    """
    changed: dict[str, list[Any]] = {}
    for name in dict.fromkeys([*before, *after]):
        old, new = json_safe(before.get(name)), json_safe(after.get(name))
        if old != new:
            changed[str(name)] = [old, new]
    return changed


def json_safe(value: Any) -> Any:
    """`value` in plain JSON types; raises TypeError for bytes and anything unknown."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("Audit changes hold finite numbers only.")
        return value if value != 0 else 0.0
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID | Decimal | Promise):
        return str(value)
    if isinstance(value, models.Model):
        return json_safe(value.pk)
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((json_safe(item) for item in value), key=canonical_json)
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    raise TypeError(f"Cannot record a {type(value).__name__} in an audit record.")


@transaction.atomic
def audit_external_event_write(
    *,
    actor: User,
    action: str,
    target_type: str,
    target_id: str,
    changes: dict[str, list[Any]] | None = None,
) -> AuditRecord:
    """An event reported by a client (`POST /audits`); the caller is the actor.

    The application's own actions are refused, so a client cannot put a forged login or role
    change into the trail.
    """
    if action in INTERNAL_ACTIONS:
        raise ValidationError({"action": ["This action is recorded by Agora itself."]})
    if not action.startswith(f"{target_type}.") or action == f"{target_type}.":
        raise ValidationError({"action": ["Use `<target_type>.<verb>`."]})
    return audit_record_write(
        action=action, target_type=target_type, target_id=target_id, actor=actor, changes=changes
    )


@transaction.atomic
def audit_record_update(
    *,
    record: AuditRecord,
    actor: User | None,
    status: str | None = None,
    note: str | None = None,
) -> AuditRecord:
    """Change the workflow fields, the only mutable ones; an `audit.updated` record tells who.

    Neither field is part of the chain, so the edit leaves verification intact.
    """
    record = AuditRecord.objects.select_for_update().get(pk=record.pk)
    if status is not None and status not in AuditStatus.values:
        raise ValidationError({"status": [f"Choose one of {', '.join(AuditStatus.values)}."]})
    if note and record.redacted:
        raise ValidationError({"note": ["A redacted record takes no note."]})
    before = {"status": record.status, "note": record.note}
    after = {
        "status": status if status is not None else record.status,
        "note": note if note is not None else record.note,
    }
    changes = audit_changes(before, after)
    if not changes:
        return record
    record.status, record.note = after["status"], after["note"]
    record.save(update_fields=["status", "note"])
    audit_record_write(
        action=UPDATE_ACTION,
        target_type=AUDIT_TARGET,
        target_id=record.pk,
        actor=actor,
        changes=changes,
    )
    return record


@transaction.atomic
def audit_record_redact(*, record: AuditRecord, actor: User | None) -> AuditRecord:
    """Clear changes, ip, user agent and note for good, keep the row, and record who did it.

    The chain stays verifiable: the cleared fields are covered only through the digest kept
    on the row (see audits/chain.py). Redacting a redacted record changes nothing.
    """
    record = AuditRecord.objects.select_for_update().get(pk=record.pk)
    if record.redacted:
        return record
    record.changes, record.ip, record.user_agent = {}, None, ""
    record.note, record.content_salt, record.redacted = "", "", True
    record.save(update_fields=["changes", "ip", "user_agent", "note", "content_salt", "redacted"])
    audit_record_write(
        action=REDACTION_ACTION,
        target_type=AUDIT_TARGET,
        target_id=record.pk,
        actor=actor,
        changes={"redacted": [False, True]},
    )
    return record


def _event_checked(event: AuditEvent) -> tuple[AuditEvent, dict[str, list[Any]]]:
    """The event's changes in canonical form; ValueError for what the contract rules out."""
    target_id = str(event.target_id)
    if not event.target_type or len(event.target_type) > TARGET_TYPE_MAX_LENGTH:
        raise ValueError(f"Bad audit target type {event.target_type!r}")
    verb = event.action.removeprefix(f"{event.target_type}.")
    if len(event.action) > ACTION_MAX_LENGTH or verb in ("", event.action):
        raise ValueError(f"Audit action {event.action!r} is not `<target_type>.<verb>`")
    if len(target_id) > TARGET_ID_MAX_LENGTH:
        raise ValueError("Audit target id is too long")
    if event.actor is not None and not isinstance(event.actor, User):
        raise TypeError("An audit actor is a User or None")
    changes = json_safe(dict(event.changes or {}))
    for name, pair in changes.items():
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError(f"Audit change {name!r} is not [old, new]")
    return event, changes


def _chain_head_lock() -> AuditChainHead:
    """The head row, locked until the transaction ends; created on the first append.

    Two first appends may race to create it: the loser's INSERT waits for the winner's
    commit, fails, and then locks the winner's row like any later append.
    """
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is not None:
        return head
    latest = AuditRecord.objects.order_by("-sequence").values("sequence", "hash").first()
    try:
        with transaction.atomic():
            return AuditChainHead.objects.create(
                pk=1,
                sequence=latest["sequence"] if latest else 0,
                hash=latest["hash"] if latest else GENESIS_HASH,
            )
    except IntegrityError:
        return AuditChainHead.objects.select_for_update().get(pk=1)


def _client_ip(ip: str | None) -> str | None:
    """The address in canonical form; anything that is not an address is left out."""
    try:
        return str(ipaddress.ip_address(ip.strip())) if ip else None
    except ValueError:
        return None


def _printable(text: str) -> str:
    """Control characters (NUL included, which PostgreSQL refuses) have no place in a header."""
    return "".join(ch for ch in text if ch >= " " and ch != "\x7f")
