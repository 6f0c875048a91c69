"""The hash chain that makes audit records tamper-evident, and its verification.

Every record stores two hashes:

- `content_digest` = SHA-256(`content_salt` + canonical {changes, ip, user_agent}), taken at
  write time. These are the fields redaction clears. The random salt is cleared with them, so
  the digest left on a redacted row cannot be used to confirm a guess ("was the ip 10.0.0.7?").
- `hash` = SHA-256(canonical {sequence, id, occurred_at, actor, action, target_type,
  target_id, request_id, content_digest, prev_hash}), where `prev_hash` is the `hash` of the
  record with the previous sequence number (the first record links to `GENESIS_HASH`).

So the chain covers everything that describes the event, while redaction (which empties the
digested fields) and the workflow fields `status` and `note` leave every link intact. A
redacted row is checked for being empty and for the `audit.redacted` record that names it.

A record is inserted unsealed (no `sequence`, `prev_hash` or `hash`) in its writer's
transaction and linked in just after the commit by `audits.services.audit_chain_seal`. Until
then only its content digest exists, so an edit made to it directly in SQL is not detectable;
verification reports such records as awaiting their seal, not as problems.

Plain SHA-256 with no secret: anyone with write access to the database who rewrites a record
*and every later one* and the head can hide it. `verify_audit_chain --anchor SEQ:HASH` checks
against head hashes kept elsewhere (the command prints one), which closes that gap.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from audits.models import AuditChainHead, AuditRecord

GENESIS_HASH = "0" * 64
HASH_VERSION = 1
REDACTION_ACTION = "audit.redacted"
PROBLEMS_KEPT = 100


def canonical_json(value: Any) -> str:
    """One text per JSON value: keys sorted, no spaces, and numbers as normalised decimals.

    Numbers are normalised because PostgreSQL's jsonb rewrites them (`1e16` comes back as
    `10000000000000000`, `1.0` and `1` are the same number), and the hash of a record read
    back must equal the hash computed when it was written.
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return _canonical_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: str(item[0]))
        inner = ",".join(
            f"{json.dumps(str(key), ensure_ascii=False)}:{canonical_json(item)}"
            for key, item in items
        )
        return "{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical_json(item) for item in value) + "]"
    raise TypeError(f"Not a JSON value: {type(value).__name__}")


def _canonical_number(value: int | float) -> str:
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ValueError("Audit records hold finite numbers only.")
    if number.is_zero():
        return "0"
    sign, digits, exponent = number.as_tuple()
    exponent = int(exponent)
    while len(digits) > 1 and digits[-1] == 0:
        digits = digits[:-1]
        exponent += 1
    return f"{'-' if sign else ''}{''.join(map(str, digits))}E{exponent}"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_ip(ip: str | None) -> str | None:
    """The address as Python spells it, whichever way the database hands it back."""
    if not ip:
        return None
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return ip


def canonical_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def content_digest(*, salt: str, changes: dict[str, Any], ip: str | None, user_agent: str) -> str:
    content = {"changes": changes, "ip": canonical_ip(ip), "user_agent": user_agent}
    return _sha256(salt + canonical_json(content))


def link_hash(
    *,
    sequence: int,
    record_id: Any,
    occurred_at: dt.datetime,
    actor_id: Any,
    action: str,
    target_type: str,
    target_id: str,
    request_id: str,
    digest: str,
    prev_hash: str,
) -> str:
    return _sha256(
        canonical_json(
            {
                "v": HASH_VERSION,
                "sequence": sequence,
                "id": str(record_id),
                "occurred_at": canonical_time(occurred_at),
                "actor": str(actor_id) if actor_id is not None else None,
                "action": action,
                "target_type": target_type,
                "target_id": target_id,
                "request_id": request_id,
                "content_digest": digest,
                "prev_hash": prev_hash,
            }
        )
    )


def record_link_hash(record: Any) -> str:
    """`link_hash` of a record (a model instance or a row with the same attribute names)."""
    return link_hash(
        sequence=record.sequence,
        record_id=record.id,
        occurred_at=record.occurred_at,
        actor_id=record.actor_id,
        action=record.action,
        target_type=record.target_type,
        target_id=record.target_id,
        request_id=record.request_id,
        digest=record.content_digest,
        prev_hash=record.prev_hash,
    )


def record_content_digest(record: Any) -> str:
    return content_digest(
        salt=record.content_salt,
        changes=record.changes,
        ip=record.ip,
        user_agent=record.user_agent,
    )


@dataclass(frozen=True)
class ChainProblem:
    record_id: str | None
    sequence: int | None
    reason: str

    def __str__(self) -> str:
        where = f"record {self.record_id} (sequence {self.sequence})" if self.record_id else "chain"
        return f"{where}: {self.reason}"


@dataclass
class ChainReport:
    records: int = 0
    redacted: int = 0
    last_sequence: int = 0
    last_hash: str = GENESIS_HASH
    problems: list[ChainProblem] = field(default_factory=list)
    problem_count: int = 0
    unsealed: int = 0

    @property
    def intact(self) -> bool:
        return self.problem_count == 0

    def add(self, problem: ChainProblem) -> None:
        self.problem_count += 1
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(problem)

    @property
    def first_problem(self) -> ChainProblem | None:
        ordered = sorted(self.problems, key=lambda p: (p.sequence is None, p.sequence or 0))
        return ordered[0] if ordered else None


_ROW_FIELDS = (
    "id",
    "sequence",
    "occurred_at",
    "actor_id",
    "action",
    "target_type",
    "target_id",
    "changes",
    "request_id",
    "ip",
    "user_agent",
    "redacted",
    "content_salt",
    "content_digest",
    "prev_hash",
    "hash",
)


def chain_verify(*, anchors: Iterable[tuple[int, str]] = (), chunk_size: int = 2000) -> ChainReport:
    """Walk every sealed record in sequence order, streaming, and report what does not add up.

    The head is read first and only records up to it are walked, so records sealed while the
    walk runs are not mistaken for a broken end. Records still awaiting their seal are
    counted (`unsealed`), not checked: they have no place in the chain yet.
    """
    report = ChainReport()
    expected_anchors = dict(anchors)
    head = AuditChainHead.objects.filter(pk=1).first()
    rows = AuditRecord.objects.filter(sequence__isnull=False).order_by("sequence")
    if head is not None:
        rows = rows.filter(sequence__lte=head.sequence)
    unannounced_redactions: dict[str, int] = {}
    for row in rows.values_list(*_ROW_FIELDS, named=True).iterator(chunk_size=chunk_size):
        reasons = _row_problems(row, report)
        if row.redacted:
            report.redacted += 1
            unannounced_redactions[str(row.id)] = row.sequence
        if row.action == REDACTION_ACTION:
            unannounced_redactions.pop(row.target_id, None)
        if row.sequence in expected_anchors and expected_anchors.pop(row.sequence) != row.hash:
            reasons.append("its hash differs from the anchor given for this sequence")
        if reasons:
            report.add(ChainProblem(str(row.id), row.sequence, "; ".join(reasons)))
        report.records += 1
        report.last_sequence = row.sequence
        report.last_hash = row.hash
    if unannounced_redactions:
        # The audit.redacted record may be committed but not sealed yet, or sealed after the
        # head was read: it still announces the redaction.
        later = AuditRecord.objects.filter(
            action=REDACTION_ACTION, target_id__in=list(unannounced_redactions)
        ).exclude(sequence__lte=report.last_sequence)
        for target_id in later.values_list("target_id", flat=True):
            unannounced_redactions.pop(target_id, None)
    for record_id, sequence in unannounced_redactions.items():
        report.add(
            ChainProblem(record_id, sequence, "marked redacted, but no audit.redacted record")
        )
    for sequence in sorted(expected_anchors):
        report.add(ChainProblem(None, sequence, f"no record with anchored sequence {sequence}"))
    _head_problems(head, report)
    report.unsealed = AuditRecord.objects.filter(sequence__isnull=True).count()
    return report


def _row_problems(row: Any, report: ChainReport) -> list[str]:
    reasons: list[str] = []
    expected_sequence = report.last_sequence + 1
    if row.sequence != expected_sequence:
        reasons.append(
            f"expected sequence {expected_sequence}: records "
            f"{expected_sequence}-{row.sequence - 1} are missing"
        )
    if row.prev_hash != report.last_hash:
        reasons.append(
            f"prev_hash does not match the hash of the record before it (sequence "
            f"{report.last_sequence}): that record or this one was altered, removed or moved"
        )
    if row.redacted:
        if row.changes or row.ip or row.user_agent or row.content_salt:
            reasons.append("marked redacted but still holds changes, ip or user agent")
    elif record_content_digest(row) != row.content_digest:
        reasons.append("changes, ip or user agent differ from what was written")
    if record_link_hash(row) != row.hash:
        reasons.append(
            "hash does not match the record (action, target, actor, time, request id, "
            "sequence, content digest or prev_hash altered)"
        )
    return reasons


def _head_problems(head: AuditChainHead | None, report: ChainReport) -> None:
    if head is None:
        if report.records:
            report.add(ChainProblem(None, None, "the chain head row is missing"))
        return
    if head.sequence != report.last_sequence:
        report.add(
            ChainProblem(
                None,
                report.last_sequence + 1,
                f"the chain ends at sequence {report.last_sequence} but its head is at "
                f"{head.sequence}: records were removed from the end",
            )
        )
    elif head.hash != report.last_hash:
        report.add(
            ChainProblem(
                None,
                head.sequence,
                "the head's hash differs from the hash of the last record",
            )
        )
