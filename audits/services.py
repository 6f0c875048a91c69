"""Writes of the audits app: appending to the chain, sealing it, workflow edits, redaction.

Every other app's service calls `audit_record_write` (or `audit_records_write` for many events
at once) inside its own transaction, so the write and its record commit or roll back together.
The record is inserted *unsealed*: with its content digest, but without its place in the chain
(`sequence`, `prev_hash`, `hash` are NULL). Appending takes no lock, so audited writers never
queue behind one another. Still call it as the last write of the transaction, so a failing
record rolls back everything it describes.

Sealing (`audit_chain_seal`) links the committed, unsealed records into the chain in short
transactions of its own, under the chain lock (the `AuditChainHead` row, and on PostgreSQL an
advisory lock taken first). Each append asks for a seal once its transaction commits
(`audit_chain_seal_soon`); a burst of writers is sealed by whichever of them holds the lock, in
a few large batches, and the Celery beat task `tasks.audit_chain_seal` picks up anything a race
left behind. See docs/audits.md for what this means for tamper evidence.
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import logging
import math
import secrets
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.functional import Promise
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
    AuditChainHead,
    AuditRecord,
    AuditStatus,
)
from config.core.context import current_request_id, current_request_origin
from config.core.errors import ValidationFailed

logger = logging.getLogger(__name__)

AUDIT_TARGET = "audit"
UPDATE_ACTION = "audit.updated"
SEAL_BATCH_SIZE = 1000
# How long an on-commit seal keeps sealing other writers' records before it returns.
SEAL_SOON_BUDGET_SECONDS = 0.05
# pg_advisory_xact_lock key of the sealer: "AUDITSEA" read as a big-endian 64-bit integer.
SEAL_LOCK_KEY = int.from_bytes(b"AUDITSEA", "big") - 2**63
_SEALED_FIELDS = ["sequence", "prev_hash", "hash"]
# A thread of this process sealing on commit, and whether a writer asked for a seal since it
# began (`audit_chain_seal_soon`).
_sealer = threading.Lock()
_seal_wanted = threading.Event()
_LINKED_FIELDS = (
    "id",
    "occurred_at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "request_id",
    "content_digest",
)
# The same as columns, in the order of `_Unsealed`'s fields.
_LINKED_COLUMNS = (
    "id",
    "occurred_at",
    "actor_id",
    "action",
    "target_type",
    "target_id",
    "request_id",
    "content_digest",
)
_RECORD_TABLE = AuditRecord._meta.db_table
_HEAD_TABLE = AuditChainHead._meta.db_table

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
    """Insert several records, unsealed, in one INSERT (bulk writes); no chain lock is taken.

    The records get their `sequence` and `hash` from `audit_chain_seal`, which is asked for
    when the caller's transaction commits.
    """
    if not events:
        return []
    records = audit_records_prepare(events=events)
    with transaction.atomic(savepoint=False):
        AuditRecord.objects.bulk_create(records)
        audit_records_inserted()
    return records


def audit_records_prepare(*, events: Sequence[AuditEvent]) -> list[AuditRecord]:
    """The unsaved, unsealed records of `events`, for a caller that inserts them with its own
    statements (`config.core.statements`) in its transaction and then calls
    `audit_records_inserted`; `audit_records_write` is the same in one call."""
    checked = [_event_checked(event) for event in events]
    origin = current_request_origin()
    request_id = (current_request_id() or "")[:REQUEST_ID_MAX_LENGTH]
    ip = _client_ip(origin.ip)
    user_agent = _printable(origin.user_agent)
    records: list[AuditRecord] = []
    for event, changes in checked:
        record = AuditRecord(
            id=uuid7(),
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
        )
        record.content_digest = record_content_digest(record)
        records.append(record)
    return records


def audit_records_inserted() -> None:
    """Records were inserted in the current transaction: seal them once it commits."""
    transaction.on_commit(audit_chain_seal_soon, robust=True)


def audit_chain_seal(
    *, batch_size: int = SEAL_BATCH_SIZE, wait: bool = True, budget: float | None = None
) -> int:
    """Link every committed, unsealed record into the chain; returns how many were sealed.

    Works in batches of at most `batch_size` records, each in its own short transaction under
    the chain lock: the records are taken in id order (UUIDv7, so time order), numbered on from
    the head, hashed exactly as `audits.chain.link_hash` says, written back with one UPDATE,
    and the head moves to the last of them.

    With `wait=False` a sealer that finds another one at work returns at once. No record is
    stranded by that: the sealer at work checks for unsealed records again after each commit
    (when its lock is gone), so it sees every record whose own hook found the lock busy, and
    seals it, or leaves it to whoever holds the lock by then. `budget` (seconds) bounds that
    looping, so one request does not seal for everybody during a long burst; what it leaves is
    sealed by the next write or by the beat task. Must not run inside a transaction that also
    wrote records it is meant to seal.
    """
    total = 0
    deadline = None if budget is None else time.monotonic() + budget
    while True:
        sealed = _chain_seal_batch(batch_size=batch_size, wait=wait)
        if sealed is None:
            return total
        total += sealed
        if sealed == batch_size:
            continue
        if deadline is not None and time.monotonic() > deadline:
            return total
        if not _unsealed_exist():
            return total


def audit_chain_seal_soon() -> None:
    """The on-commit hook of every append: seal now unless another sealer is at work.

    On PostgreSQL the lock is only tried, so under load the writers do not queue behind one
    another here either; whatever a race leaves unsealed is taken by the next write's seal or
    by the beat task (`tasks.audit_chain_seal`). SQLite serialises writers anyway, so there
    the seal simply waits its turn.

    Within one process, a writer that finds another of its threads sealing does not even try
    the lock (a busy try costs three round trips): it raises a flag, and the thread at work
    seals again once it lets go while the flag is up (within the same budget), so a record
    committed before its flag went up is in that later pass.
    """
    _seal_wanted.set()
    deadline = time.monotonic() + SEAL_SOON_BUDGET_SECONDS
    while _seal_wanted.is_set() and _sealer.acquire(blocking=False):
        try:
            _seal_wanted.clear()
            audit_chain_seal(
                wait=connection.vendor != "postgresql", budget=SEAL_SOON_BUDGET_SECONDS
            )
        except Exception:
            # The write itself committed; the beat task seals the record later.
            logger.exception("Sealing the audit chain failed; the beat task will retry")
        finally:
            _sealer.release()
        if time.monotonic() > deadline:
            return


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
        raise ValidationFailed({"action": ["This action is recorded by Agora itself."]})
    if not action.startswith(f"{target_type}.") or action == f"{target_type}.":
        raise ValidationFailed({"action": ["Use `<target_type>.<verb>`."]})
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
        raise ValidationFailed({"status": [f"Choose one of {', '.join(AuditStatus.values)}."]})
    if note and record.redacted:
        raise ValidationFailed({"note": ["A redacted record takes no note."]})
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


def _chain_seal_batch(*, batch_size: int, wait: bool) -> int | None:
    """Seal up to `batch_size` records in one transaction; None if the lock was busy."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            taken = _chain_take_postgresql(batch_size=batch_size, wait=wait)
            if taken is None:
                return None
            head, pending = taken
        else:
            head = _chain_head_lock()
            pending = _chain_pending(batch_size)
        if not pending:
            return 0
        for record in pending:
            record.sequence, record.prev_hash = head.sequence + 1, head.hash
            record.hash = record_link_hash(record)
            head.sequence, head.hash = record.sequence, record.hash
        _sealed_fields_update(pending, head)
        return len(pending)


@dataclass
class _Unsealed:
    """What linking a record reads and writes (the fields `record_link_hash` covers)."""

    id: uuid.UUID
    occurred_at: dt.datetime
    actor_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str
    request_id: str
    content_digest: str
    sequence: int | None = None
    prev_hash: str | None = None
    hash: str | None = None


def _chain_pending(batch_size: int) -> list[Any]:
    return list(
        AuditRecord.objects.filter(sequence__isnull=True)
        .order_by("id")
        .only(*_LINKED_FIELDS)[:batch_size]
    )


def _chain_take_postgresql(
    *, batch_size: int, wait: bool
) -> tuple[AuditChainHead, list[Any]] | None:
    """On PostgreSQL: the sealer's advisory lock (tried, unless `wait`) and the head row
    locked, in one statement; then the oldest unsealed records. None when the lock is busy.

    The lock comes first (`OFFSET 0` keeps the planner from evaluating it anywhere else), so
    a busy sealer costs no row-lock queue. That statement's snapshot may predate the previous
    sealer's commit, but `FOR UPDATE` reads the head's newest version; the records are read
    by a statement of their own, whose snapshot follows the lock.
    """
    lock = (
        "SELECT true AS got FROM pg_advisory_xact_lock(%s) OFFSET 0"
        if wait
        else "SELECT pg_try_advisory_xact_lock(%s) AS got OFFSET 0"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT l.got, h.sequence, h.hash FROM ({lock}) AS l "  # noqa: S608  # nosec B608
            f"LEFT JOIN LATERAL (SELECT sequence, hash FROM {_HEAD_TABLE} "
            "WHERE l.got AND id = 1 FOR UPDATE) AS h ON true",
            [SEAL_LOCK_KEY],
        )
        got, head_sequence, head_hash = cursor.fetchone()
        if not got:
            return None
        if head_sequence is None:
            # The first seal ever (or one whose snapshot missed it): made or found under the
            # lock we now hold.
            return _chain_head_lock(), _chain_pending(batch_size)
        cursor.execute(
            f"SELECT {', '.join(_LINKED_COLUMNS)} FROM {_RECORD_TABLE} "  # noqa: S608  # nosec B608
            "WHERE sequence IS NULL ORDER BY id LIMIT %s",
            [batch_size],
        )
        pending = [_Unsealed(*row) for row in cursor.fetchall()]
    return AuditChainHead(pk=1, sequence=head_sequence, hash=head_hash), pending


def _sealed_fields_update(records: list[Any], head: AuditChainHead) -> None:
    """Write the chain fields of `records` back and move the head to the last of them.

    On PostgreSQL one statement: an UPDATE joined with a VALUES list (linear in the batch,
    where `bulk_update`'s CASE per field is quadratic) and the head's UPDATE. Elsewhere
    `bulk_update` and the head's save.
    """
    if connection.vendor != "postgresql":
        AuditRecord.objects.bulk_update(records, _SEALED_FIELDS, batch_size=len(records))
        head.save(update_fields=["sequence", "hash"])
        return
    rows = ", ".join(["(%s::uuid, %s::bigint, %s, %s)"] * len(records))
    params: list[Any] = []
    for record in records:
        params += [record.id, record.sequence, record.prev_hash, record.hash]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v (id, sequence, prev_hash, hash) AS (VALUES {rows}), "  # noqa: S608  # nosec B608
            f"sealed AS (UPDATE {_RECORD_TABLE} AS r SET sequence = v.sequence, "
            "prev_hash = v.prev_hash, hash = v.hash FROM v "
            "WHERE r.id = v.id AND r.sequence IS NULL RETURNING r.id) "
            f"UPDATE {_HEAD_TABLE} SET sequence = %s, hash = %s WHERE id = 1 "
            "RETURNING (SELECT count(*) FROM sealed)",
            [*params, head.sequence, head.hash],
        )
        row = cursor.fetchone()
    if row is None or row[0] != len(records):
        raise RuntimeError("Audit records changed while they were being sealed")


def _unsealed_exist() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {_RECORD_TABLE} WHERE sequence IS NULL LIMIT 1")  # noqa: S608  # nosec B608
        return cursor.fetchone() is not None


def _chain_head_lock() -> AuditChainHead:
    """The head row, locked until the transaction ends; created on the first seal.

    Two first seals may race to create it: the loser's INSERT waits for the winner's commit,
    fails, and then locks the winner's row like any later seal.
    """
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is not None:
        return head
    latest = (
        AuditRecord.objects.filter(sequence__isnull=False)
        .order_by("-sequence")
        .values("sequence", "hash")
        .first()
    )
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
