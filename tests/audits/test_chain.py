"""The hash chain and `manage.py verify_audit_chain`: intact trails pass, any edit behind the
application's back is caught and the first bad record is named."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from audits.chain import canonical_json, chain_verify, content_digest, link_hash
from audits.models import AuditChainHead, AuditRecord
from audits.services import audit_record_redact, audit_record_update
from tests.audits.helpers import database_url, json_param, record, tamper, tamper_delete, verify
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail() -> list[AuditRecord]:
    """Six records by a few actors, with content worth redacting."""
    actors = [UserFactory(), AdminFactory(), None]
    return [
        record(
            "invoice.paid",
            actor=actors[n % 3],
            target_id=f"INV-{n}",
            changes={"status": ["due", "paid"], "payer": [None, f"Müller {n}"]},
            request_id=f"req-{n}",
            ip=f"203.0.113.{n}",
            user_agent="Agora-Test/1.0",
        )
        for n in range(6)
    ]


def _fails_naming(record: AuditRecord, *words: str, sequence: int | None = None) -> str:
    with pytest.raises(CommandError) as caught:
        verify()
    message = str(caught.value)
    assert f"First bad record {record.pk} (sequence {sequence or record.sequence})" in message
    for word in words:
        assert word in message
    return message


def test_an_intact_chain_passes_with_a_summary(trail) -> None:
    output = verify()

    head = AuditChainHead.objects.get()
    assert "Audit chain intact: 6 records (0 redacted)" in output
    assert f"Head 6:{head.hash}" in output


def test_an_empty_trail_passes() -> None:
    assert "intact: 0 records" in verify()


def test_the_chain_stays_verifiable_after_many_writes_redactions_and_status_edits(trail) -> None:
    admin = AdminFactory()
    for target in trail[::2]:
        audit_record_update(record=target, actor=admin, status="acknowledged", note="Geprüft ✓")
    audit_record_redact(record=trail[1], actor=admin)
    audit_record_redact(record=trail[2], actor=admin)
    audit_record_update(record=trail[4], actor=admin, status="resolved", note="")
    for n in range(30):
        record("payment.refunded", target_id=str(n), changes={"amount": [n, n / 3]})

    output = verify()

    assert "(2 redacted)" in output
    assert AuditRecord.objects.count() == 6 + 3 + 2 + 1 + 30


def test_numbers_unicode_and_nesting_survive_the_database_round_trip() -> None:
    changes = {
        "floats": [1e16, 0.1],
        "whole": [1.0, 10**30 + 1],
        "zero": [-0.0, 0],
        "small": [1e-7, -2.5e-300],
        "text": ["Siobhán O'Brien", '李雷 🚀\n\t"quoted"'],
        "nested": [{"b": [1, {"c": None}], "a": True}, []],
    }

    record(changes=changes, ip="2001:db8::1", user_agent="Müller/∞")

    assert chain_verify().intact


def test_a_direct_sql_update_of_the_action_is_caught_and_named(trail) -> None:
    tamper("SET action = %s WHERE sequence = 3", ["invoice.voided"])

    _fails_naming(trail[2], "hash does not match")


def test_a_direct_sql_update_of_the_changes_is_caught_and_named(trail) -> None:
    tamper(
        f"SET changes = {json_param()} WHERE sequence = 4",
        ['{"status": ["due", "void"]}'],
    )

    _fails_naming(trail[3], "changes, ip or user agent differ")


def test_a_direct_sql_update_of_the_ip_is_caught(trail) -> None:
    tamper("SET ip = %s WHERE sequence = 2", ["198.51.100.1"])

    _fails_naming(trail[1], "changes, ip or user agent differ")


def test_a_deleted_record_in_the_middle_is_caught_at_the_next_one(trail) -> None:
    tamper_delete("sequence = 3")

    _fails_naming(trail[3], "records 3-3 are missing")


def test_reordered_records_are_caught(trail) -> None:
    tamper("SET sequence = 1000 WHERE sequence = 2")
    tamper("SET sequence = 2 WHERE sequence = 3")
    tamper("SET sequence = 3 WHERE sequence = 1000")

    _fails_naming(trail[2], "prev_hash does not match", sequence=2)


def test_a_forged_hash_is_caught(trail) -> None:
    tamper("SET hash = %s WHERE sequence = 5", ["f" * 64])

    _fails_naming(trail[4], "hash does not match")


def test_a_rewritten_and_rehashed_record_breaks_the_link_to_the_next(trail) -> None:
    forged = AuditRecord.objects.get(sequence=3)
    forged.action = "invoice.voided"
    tamper(
        "SET action = %s, hash = %s WHERE sequence = 3",
        [
            forged.action,
            link_hash(
                sequence=forged.sequence,
                record_id=forged.pk,
                occurred_at=forged.occurred_at,
                actor_id=forged.actor_id,
                action=forged.action,
                target_type=forged.target_type,
                target_id=forged.target_id,
                request_id=forged.request_id,
                digest=forged.content_digest,
                prev_hash=forged.prev_hash,
            ),
        ],
    )

    _fails_naming(trail[3], "prev_hash does not match", "sequence 3")


def test_records_cut_off_the_end_are_caught(trail) -> None:
    tamper_delete("sequence >= 5")

    with pytest.raises(CommandError, match="ends at sequence 4 but its head is at 6"):
        verify()


def test_marking_a_record_redacted_in_sql_without_a_redaction_record_is_caught(trail) -> None:
    tamper(
        f"SET redacted = %s, changes = {json_param()}, ip = NULL, "
        "user_agent = '', note = '', content_salt = '' WHERE sequence = 2",
        [True, "{}"],
    )

    _fails_naming(trail[1], "no audit.redacted record")


def test_content_put_back_into_a_redacted_record_is_caught(trail) -> None:
    audit_record_redact(record=trail[1], actor=None)
    tamper(
        f"SET changes = {json_param()} WHERE sequence = 2",
        ['{"payer": [null, "someone else"]}'],
    )

    _fails_naming(trail[1], "still holds changes")


def test_the_report_names_the_first_of_several_bad_records(trail) -> None:
    tamper("SET target_id = %s WHERE sequence IN (2, 5)", ["INV-X"])

    message = _fails_naming(trail[1])

    assert "2 problem(s)" in message


def test_anchors_from_an_earlier_run_are_checked(trail) -> None:
    head = AuditChainHead.objects.get()
    out = StringIO()

    call_command("verify_audit_chain", f"--anchor={head.sequence}:{head.hash}", stdout=out)
    with pytest.raises(CommandError, match="differs from the anchor"):
        call_command("verify_audit_chain", f"--anchor=3:{'a' * 64}", stdout=out, stderr=out)

    assert "intact" in out.getvalue()


def test_canonical_json_is_independent_of_key_order_and_number_spelling() -> None:
    assert canonical_json({"b": 1, "a": [1.0, 1e2]}) == canonical_json({"a": [1, 100], "b": 1.0})
    assert canonical_json("1") != canonical_json(1)


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_from_the_shell() -> None:
    record()
    bad = record()
    tamper("SET target_type = %s WHERE sequence = 2", ["forged"])
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_ENV": "test"}

    result = subprocess.run(
        [sys.executable, "manage.py", "verify_audit_chain"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert f"record {bad.pk} (sequence 2)" in result.stderr


def test_the_hash_format_is_frozen_so_chains_written_earlier_still_verify() -> None:
    """Version 1 of the hashes, pinned to known values: a change to what is hashed or how it is
    spelled would make every record sealed before it fail verification."""
    sealed = link_hash(
        sequence=7,
        record_id=uuid.UUID("01a20000-0000-7000-8000-000000000007"),
        occurred_at=dt.datetime(
            2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone(dt.timedelta(hours=1))
        ),
        actor_id=42,
        action="invoice.paid",
        target_type="invoice",
        target_id="INV-7",
        request_id="req-7",
        digest="d" * 64,
        prev_hash="a" * 64,
    )
    first = link_hash(
        sequence=1,
        record_id="x",
        occurred_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
        actor_id=None,
        action="a",
        target_type="t",
        target_id="",
        request_id="",
        digest="",
        prev_hash="0" * 64,
    )
    digest = content_digest(
        salt="pepper",
        changes={"amount": [1.5, 100], "payer": [None, "Müller"], "ok": [False, True]},
        ip="::ffff:10.0.0.7",
        user_agent="UA/1",
    )
    empty = content_digest(salt="", changes={}, ip=None, user_agent="")

    assert sealed == "6673152e71ea3a1e205b350419563f53ec2ded1f73ec76f57f62196c2f585854"
    assert first == "6d7b8c926eed63f0acad7621a3f0294a1ad7b85d324d02aaeff0b2914cb304df"
    assert digest == "fee9e23136940d04dde79c8dab75e0fda2567a3b784164ba718f97c3255db754"
    assert empty == "e7b4befa816ac3804469a944af03afc8402317be4f3ee949d454194cfcb59bc0"
    assert (
        canonical_json({"b": [1.0, 1e2, -0.5, 0, 12300, True, None], "a": "ü"})
        == '{"a":"ü","b":[1E0,1E2,-5E-1,0,123E2,true,null]}'
    )


def test_a_deleted_head_row_is_caught(trail) -> None:
    AuditChainHead.objects.all().delete()

    report = chain_verify()

    assert [(p.record_id, p.sequence, p.reason) for p in report.problems] == [
        (None, None, "the chain head row is missing")
    ]


def test_a_head_whose_hash_differs_from_the_last_record_is_caught(trail) -> None:
    AuditChainHead.objects.update(hash="f" * 64)

    report = chain_verify()

    assert [(p.record_id, p.sequence, p.reason) for p in report.problems] == [
        (None, 6, "the head's hash differs from the hash of the last record")
    ]


def test_records_cut_off_the_end_are_reported_where_the_chain_now_ends(trail) -> None:
    tamper_delete("sequence >= 5")

    report = chain_verify()

    assert [(p.record_id, p.sequence) for p in report.problems] == [(None, 5)]


def test_each_kind_of_tampering_is_reported_in_its_own_words(trail) -> None:
    tamper("SET user_agent = %s WHERE sequence = 2", ["curl/8"])
    tamper("SET target_id = %s WHERE sequence = 4", ["INV-X"])

    reasons = {p.sequence: p.reason for p in chain_verify().problems}

    assert reasons == {
        2: "changes, ip or user agent differ from what was written",
        4: "hash does not match the record (action, target, actor, time, request id, "
        "sequence, content digest or prev_hash altered)",
    }
