"""Helpers for the audits tests: records through the real service, chain checks, SQL edits."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.db import connection

from accounts.models import User
from audits.models import AuditRecord
from audits.services import audit_chain_seal, audit_record_write
from config.core.context import RequestOrigin, request_id_var, request_origin_var

AUDITS_URL = "/api/v1/audits"


def record(
    action: str = "invoice.paid",
    *,
    actor: User | None = None,
    target_id: str = "INV-1",
    changes: dict[str, list[Any]] | None = None,
    request_id: str | None = None,
    ip: str | None = None,
    user_agent: str = "",
    seal: bool = True,
) -> AuditRecord:
    """One record written by the service, as if during a request with these origins.

    Then sealed, as it would be on commit (a test's transaction never commits), and returned
    with its chain fields. `seal=False` inside a transaction of the caller's own: the record is
    sealed when that commits.
    """
    id_token = request_id_var.set(request_id)
    origin_token = request_origin_var.set(RequestOrigin(ip=ip, user_agent=user_agent))
    try:
        written = audit_record_write(
            action=action,
            target_type=action.split(".")[0],
            target_id=target_id,
            actor=actor,
            changes=changes,
        )
    finally:
        request_origin_var.reset(origin_token)
        request_id_var.reset(id_token)
    if seal:
        sealed()
        written.refresh_from_db(fields=["sequence", "prev_hash", "hash"])
    return written


def sealed() -> int:
    """Seal what awaits its seal, as the on-commit hook would (tests run in a transaction)."""
    return audit_chain_seal()


def records_of(action: str) -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(action=action).order_by("sequence"))


def only_record(action: str) -> AuditRecord:
    found = records_of(action)
    assert len(found) == 1, f"expected one {action} record, got {len(found)}"
    return found[0]


def tamper(clause: str, params: list[Any] | None = None) -> None:
    """`UPDATE <audit table> <clause>`: a change behind the application's back, in SQL."""
    _execute(f"UPDATE {AuditRecord._meta.db_table} {clause}", params)


def tamper_delete(where: str) -> None:
    """`DELETE FROM <audit table> WHERE <where>`, behind the application's back."""
    _execute(f"DELETE FROM {AuditRecord._meta.db_table} WHERE {where}")  # noqa: S608


def _execute(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def verify() -> str:
    """Run `manage.py verify_audit_chain` and return what it printed (raises when broken)."""
    from io import StringIO

    out = StringIO()
    call_command("verify_audit_chain", stdout=out, stderr=StringIO())
    return out.getvalue()


def json_param() -> str:
    """A JSON column's placeholder: PostgreSQL wants the text cast to jsonb."""
    return "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"


def database_url() -> str:
    """The test database as a DATABASE_URL, for commands run in a child process."""
    database = connection.settings_dict
    if connection.vendor == "postgresql":
        return (
            f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:"
            f"{database['PORT']}/{database['NAME']}"
        )
    return f"sqlite:///{database['NAME']}"


# What the account event tests send, and what their records must show of it.
ACCOUNT_EVENT_ORIGIN = {
    "HTTP_X_REQUEST_ID": "req-audit-1",
    "HTTP_USER_AGENT": "Agora-Test/1.0 (Zoë)",
}


def assert_account_event_origin(found: AuditRecord, *, actor: User | None, target: str) -> None:
    """A record of an account event: its actor, its target user, and the request's origin."""
    assert (found.actor_id, found.target_type, found.target_id) == (
        actor.pk if actor else None,
        "user",
        target,
    )
    assert (found.request_id, found.ip, found.user_agent) == (
        "req-audit-1",
        "127.0.0.1",
        "Agora-Test/1.0 (Zoë)",
    )
