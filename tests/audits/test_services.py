"""audit_record_write and friends: what a record holds, transactions, the chain under load."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import Role, User
from audits.chain import GENESIS_HASH, chain_verify
from audits.models import AuditChainHead, AuditRecord
from audits.services import (
    AuditEvent,
    audit_chain_seal,
    audit_changes,
    audit_external_event_write,
    audit_record_redact,
    audit_record_update,
    audit_record_write,
    audit_records_write,
)
from config.core.errors import ValidationFailed
from tests.audits.helpers import record, sealed
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_record_takes_request_id_and_origin_from_the_work_in_progress() -> None:
    actor = UserFactory()

    written = record(
        "invoice.paid",
        actor=actor,
        changes={"status": ["due", "paid"]},
        request_id="req-42",
        ip="203.0.113.9",
        user_agent="Agora-Test/1.0 (Müller)",
    )

    stored = AuditRecord.objects.get(pk=written.pk)
    assert (stored.actor_id, stored.action, stored.target_type, stored.target_id) == (
        actor.pk,
        "invoice.paid",
        "invoice",
        "INV-1",
    )
    assert stored.changes == {"status": ["due", "paid"]}
    assert (stored.request_id, stored.ip, stored.user_agent) == (
        "req-42",
        "203.0.113.9",
        "Agora-Test/1.0 (Müller)",
    )
    assert (stored.status, stored.note, stored.redacted) == ("open", "", False)


def test_outside_any_request_the_origin_fields_are_empty() -> None:
    written = audit_record_write(action="invoice.paid", target_type="invoice", target_id="1")

    assert (written.request_id, written.ip, written.user_agent, written.actor_id) == (
        "",
        None,
        "",
        None,
    )


def test_uuid_targets_are_stored_as_strings() -> None:
    target = uuid.uuid4()

    written = audit_record_write(action="post.created", target_type="post", target_id=target)

    assert AuditRecord.objects.get(pk=written.pk).target_id == str(target)


def test_records_link_in_sequence_from_the_genesis_hash() -> None:
    first, second, third = (record(target_id=str(n)) for n in range(3))

    assert [first.sequence, second.sequence, third.sequence] == [1, 2, 3]
    assert first.prev_hash == GENESIS_HASH
    assert (second.prev_hash, third.prev_hash) == (first.hash, second.hash)
    assert AuditChainHead.objects.get().sequence == 3


def test_the_id_is_a_uuid7() -> None:
    assert record().id.version == 7


def test_a_bad_client_address_is_left_out_and_control_characters_dropped() -> None:
    written = record(ip="not-an-address", user_agent="evil\x00agent\x07")

    assert (written.ip, written.user_agent) == (None, "evilagent")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"action": "user.registered", "target_type": "post"}, ValueError),
        ({"action": "post", "target_type": "post"}, ValueError),
        ({"action": "post.", "target_type": "post"}, ValueError),
        ({"action": "post.created", "target_type": ""}, ValueError),
        ({"action": "post.created", "target_type": "post", "changes": {"x": 1}}, ValueError),
        ({"action": "post.created", "target_type": "post", "changes": {"x": [b"s", 1]}}, TypeError),
        ({"action": "post.created", "target_type": "post", "target_id": "x" * 321}, ValueError),
    ],
)
def test_contract_violations_are_programming_errors(kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        audit_record_write(**{"target_id": "1", **kwargs})

    assert not AuditRecord.objects.exists()


def test_audit_changes_keeps_only_differences_in_json_safe_form() -> None:
    moment = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
    ident = uuid.UUID("019a8f3e-7c1d-7b2a-9f00-4c3e2d1b0a99")

    changes = audit_changes(
        {"title": "Grüße", "published_at": None, "tags": ["a"], "owner": ident, "n": 1},
        {"title": "Grüße 🌍", "published_at": moment, "tags": ("a",), "owner": ident, "n": 1.0},
    )

    assert changes == {
        "title": ["Grüße", "Grüße 🌍"],
        "published_at": [None, "2026-11-22T10:00:00Z"],
    }


def test_audit_changes_treats_missing_fields_as_none() -> None:
    assert audit_changes({}, {"body": "", "deleted": None}) == {"body": [None, ""]}


def test_audit_changes_makes_values_json_safe() -> None:
    user = UserFactory()

    changes = audit_changes(
        {},
        {
            "role": Role.ADMIN,
            "price": Decimal("12.50"),
            "tags": {"b", "a"},
            "author": user,
            "day": dt.date(2026, 11, 22),
        },
    )

    assert changes == {
        "role": [None, "admin"],
        "price": [None, "12.50"],
        "tags": [None, ["a", "b"]],
        "author": [None, str(user.pk)],
        "day": [None, "2026-11-22"],
    }


@transaction.atomic
def _write_audit_and_fail() -> None:
    user = UserFactory()
    audit_record_write(action="user.created", target_type="user", target_id=user.pk, actor=user)
    raise RuntimeError("the caller fails after auditing")


@transaction.atomic
def _write_and_audit_badly() -> None:
    UserFactory(username="rolled-back")
    audit_record_write(action="user.created", target_type="post", target_id="x")


def test_the_record_rolls_back_with_the_write_that_caused_it() -> None:
    with pytest.raises(RuntimeError):
        _write_audit_and_fail()

    assert not AuditRecord.objects.exists()
    assert not User.objects.exists()


def test_a_failing_record_rolls_back_the_write_it_belongs_to() -> None:
    with pytest.raises(ValueError, match="target_type"):
        _write_and_audit_badly()

    assert not User.objects.filter(username="rolled-back").exists()


def test_a_rolled_back_record_leaves_the_chain_intact() -> None:
    record(target_id="kept-1")
    with pytest.raises(RuntimeError):
        _write_audit_and_fail()
    record(target_id="kept-2")

    assert list(AuditRecord.objects.order_by("sequence").values_list("sequence", flat=True)) == [
        1,
        2,
    ]
    assert chain_verify().intact


def test_many_events_are_inserted_unsealed_then_sealed_in_order() -> None:
    actor = UserFactory()
    events = [AuditEvent("post.created", "post", str(n), actor, {"n": [None, n]}) for n in range(5)]

    written = audit_records_write(events=events)

    assert [(r.sequence, r.prev_hash, r.hash) for r in written] == [(None, None, None)] * 5
    assert all(r.content_digest for r in written)
    assert sealed() == 5
    stored = list(AuditRecord.objects.order_by("sequence"))
    assert [r.sequence for r in stored] == [1, 2, 3, 4, 5]
    assert [r.target_id for r in stored] == list("01234")
    assert stored[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in stored[1:]] == [r.hash for r in stored[:-1]]
    assert AuditChainHead.objects.get().sequence == 5
    assert chain_verify().intact


def test_a_record_is_sealed_when_its_transaction_commits(
    django_capture_on_commit_callbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        written = audit_record_write(action="invoice.paid", target_type="invoice", target_id="1")
        assert AuditRecord.objects.get(pk=written.pk).sequence is None

    stored = AuditRecord.objects.get(pk=written.pk)
    assert len(callbacks) == 1
    assert (stored.sequence, stored.prev_hash) == (1, GENESIS_HASH)
    assert stored.hash
    assert chain_verify().intact


def test_sealing_with_nothing_to_seal_changes_nothing() -> None:
    record()
    head = AuditChainHead.objects.get()

    assert audit_chain_seal() == 0
    assert AuditChainHead.objects.get().hash == head.hash


def test_sealing_goes_in_bounded_batches() -> None:
    audit_records_write(events=[AuditEvent("post.created", "post", str(n)) for n in range(7)])

    assert audit_chain_seal(batch_size=3) == 7
    assert list(AuditRecord.objects.order_by("sequence").values_list("sequence", flat=True)) == [
        *range(1, 8)
    ]
    assert chain_verify().intact


def test_a_sealed_record_is_sealed_only_once() -> None:
    first = record()

    audit_records_write(events=[AuditEvent("post.created", "post", "x")])
    sealed()

    first.refresh_from_db()
    assert first.sequence == 1
    assert AuditRecord.objects.filter(sequence__isnull=True).count() == 0
    assert AuditChainHead.objects.get().sequence == 2


def test_an_unsealed_tail_is_reported_not_failed() -> None:
    record()
    record()
    audit_records_write(events=[AuditEvent("post.created", "post", str(n)) for n in range(3)])

    report = chain_verify()
    out = StringIO()
    call_command("verify_audit_chain", "--no-seal", stdout=out)

    assert (report.intact, report.records, report.unsealed) == (True, 2, 3)
    assert "3 records awaiting their seal." in out.getvalue()
    assert "Audit chain intact: 2 records" in out.getvalue()


def test_the_command_seals_before_it_verifies() -> None:
    record()
    audit_records_write(events=[AuditEvent("post.created", "post", str(n)) for n in range(3)])
    out = StringIO()

    call_command("verify_audit_chain", stdout=out)

    assert "Audit chain intact: 4 records" in out.getvalue()
    assert "awaiting" not in out.getvalue()
    assert not AuditRecord.objects.filter(sequence__isnull=True).exists()


def test_an_unsealed_record_can_be_redacted_and_still_seals_into_a_valid_chain() -> None:
    admin = AdminFactory()
    target = record(changes={"email": [None, "anna@example.org"]}, ip="10.1.2.3", seal=False)

    audit_record_redact(record=target, actor=admin)
    sealed()

    target.refresh_from_db()
    assert (target.redacted, target.changes, target.sequence) == (True, {}, 1)
    assert AuditRecord.objects.get(action="audit.redacted").sequence == 2
    assert chain_verify().intact


def test_a_redaction_awaiting_its_seal_still_announces_the_redaction() -> None:
    target = record()

    audit_record_redact(record=target, actor=None)

    report = chain_verify()
    assert (report.intact, report.redacted, report.unsealed) == (True, 1, 1)


def test_an_edit_in_sql_to_an_unsealed_record_is_sealed_in_undetected() -> None:
    """The documented trade-off: before its seal, a record is not yet tamper-evident."""
    target = record(seal=False)
    AuditRecord.objects.filter(pk=target.pk).update(action="invoice.voided")

    sealed()

    assert AuditRecord.objects.get(pk=target.pk).action == "invoice.voided"
    assert chain_verify().intact


def test_the_count_includes_records_awaiting_their_seal() -> None:
    from audits.selectors import audit_record_count

    record()
    record()
    audit_records_write(events=[AuditEvent("post.created", "post", str(n)) for n in range(3)])

    assert audit_record_count() == 5


def test_the_chain_head_is_rebuilt_from_the_last_record_when_missing() -> None:
    record()
    last = record()
    AuditChainHead.objects.all().delete()

    following = record()

    assert (following.sequence, following.prev_hash) == (last.sequence + 1, last.hash)
    assert chain_verify().intact


def test_status_and_note_edits_are_recorded_as_audit_updated() -> None:
    admin = AdminFactory()
    target = record()

    audit_record_update(record=target, actor=admin, status="acknowledged", note="Seen - Zoë")

    target.refresh_from_db()
    update = AuditRecord.objects.get(action="audit.updated")
    assert (target.status, target.note) == ("acknowledged", "Seen - Zoë")
    assert (update.actor_id, update.target_type, update.target_id) == (
        admin.pk,
        "audit",
        str(target.pk),
    )
    assert update.changes == {"status": ["open", "acknowledged"], "note": ["", "Seen - Zoë"]}


def test_an_edit_that_changes_nothing_writes_nothing() -> None:
    target = record()

    audit_record_update(record=target, actor=None, status="open", note="")

    assert AuditRecord.objects.count() == 1


def test_redaction_clears_content_keeps_the_row_and_records_who() -> None:
    admin = AdminFactory()
    target = record(changes={"email": [None, "anna@example.org"]}, ip="10.1.2.3", user_agent="UA")
    audit_record_update(record=target, actor=admin, note="private")

    audit_record_redact(record=target, actor=admin)

    target.refresh_from_db()
    assert (target.changes, target.ip, target.user_agent, target.note, target.redacted) == (
        {},
        None,
        "",
        "",
        True,
    )
    redaction = AuditRecord.objects.get(action="audit.redacted")
    assert (redaction.actor_id, redaction.target_id) == (admin.pk, str(target.pk))
    assert chain_verify().intact


def test_redacting_twice_writes_one_redaction_record() -> None:
    target = record()

    audit_record_redact(record=target, actor=None)
    audit_record_redact(record=target, actor=None)

    assert AuditRecord.objects.filter(action="audit.redacted").count() == 1


def test_a_redacted_record_takes_no_note_but_its_status_still_moves() -> None:
    target = record()
    audit_record_redact(record=target, actor=None)

    with pytest.raises(ValidationFailed):
        audit_record_update(record=target, actor=None, note="again")
    audit_record_update(record=target, actor=None, status="resolved")

    target.refresh_from_db()
    assert (target.status, target.note) == ("resolved", "")


def test_external_events_may_not_use_the_applications_own_actions() -> None:
    caller = UserFactory()

    with pytest.raises(ValidationFailed):
        audit_external_event_write(
            actor=caller, action="user.login_succeeded", target_type="user", target_id="x"
        )

    assert not AuditRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_parallel_appends_never_fork_the_chain() -> None:
    writers, per_writer = 12, 5
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            for i in range(per_writer):
                with transaction.atomic():
                    record(target_id=f"{n}-{i}", seal=False)
                    # Hold the transaction open a little, as a real service would.
                    time.sleep(0.002)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    total = writers * per_writer
    assert errors == []
    audit_chain_seal()  # what the beat task does, should a last hook have found the lock busy
    assert sorted(AuditRecord.objects.values_list("sequence", flat=True)) == list(
        range(1, total + 1)
    )
    assert AuditChainHead.objects.get().sequence == total
    assert AuditRecord.objects.values("prev_hash").distinct().count() == total
    assert chain_verify().intact


@pytest.mark.django_db(transaction=True)
def test_parallel_first_appends_create_one_head() -> None:
    writers = 8
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            record(target_id=str(n))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    audit_chain_seal()
    assert AuditChainHead.objects.get().sequence == writers
    assert chain_verify().intact


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_parallel_writers_ends_in_a_fully_sealed_verifiable_chain() -> None:
    writers, per_writer = 16, 8
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            for i in range(per_writer):
                if i % 2:
                    audit_records_write(
                        events=[AuditEvent("post.created", "post", f"{n}-{i}-{k}") for k in "ab"]
                    )
                else:
                    record(target_id=f"{n}-{i}", seal=False)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    total = writers * (per_writer // 2) * 3
    assert errors == []
    # Sealed by the writers' own on-commit hooks; at most a few left for the beat task.
    assert AuditRecord.objects.filter(sequence__isnull=True).count() <= writers
    audit_chain_seal()
    sequences = list(AuditRecord.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, total + 1))
    out = StringIO()
    call_command("verify_audit_chain", "--no-seal", stdout=out)
    assert f"Audit chain intact: {total} records" in out.getvalue()
    assert "awaiting" not in out.getvalue()


@contextmanager
def _seal_lock_held_by_another_connection() -> Iterator[threading.Thread]:
    """A thread on its own connection holds the seal's advisory lock (PostgreSQL) until the
    block ends (or 30 s); the block gets the thread."""
    from audits.services import SEAL_LOCK_KEY

    locked, release = threading.Event(), threading.Event()

    def other_sealer() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=other_sealer)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        yield holder
    finally:
        release.set()
        holder.join(timeout=30)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_on_commit_seal_returns_at_once_while_another_sealer_works() -> None:
    with _seal_lock_held_by_another_connection() as holder:
        for n in range(3):
            record(target_id=str(n), seal=False)
        # The other sealer still holds the lock (until released, or 30 s): nothing waited for it.
        assert holder.is_alive()
        assert AuditRecord.objects.filter(sequence__isnull=True).count() == 3

    assert audit_chain_seal() == 3
    assert chain_verify().intact


def test_the_beat_task_seals_what_awaits_its_seal() -> None:
    from django.conf import settings

    from tasks.tasks import audit_chain_seal_task

    audit_records_write(events=[AuditEvent("post.created", "post", str(n)) for n in range(2)])

    assert audit_chain_seal_task() == 2
    assert settings.CELERY_BEAT_SCHEDULE["audit-chain-seal"] == {
        "task": "tasks.audit_chain_seal",
        "schedule": 60.0,
    }


def _statements(captured: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in captured.captured_queries
        if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


@pytest.mark.postgres
def test_sealing_a_batch_on_postgresql_is_four_statements() -> None:
    """Lock and head, the records, their chain fields and the head, the check for more."""
    record(target_id="first")  # the head exists, as on any running site
    for n in range(3):
        record(target_id=str(n), seal=False)

    with CaptureQueriesContext(connection) as captured:
        assert audit_chain_seal(wait=False) == 3

    assert len(_statements(captured)) == 4
    assert chain_verify().intact


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_busy_seal_on_postgresql_is_one_statement_and_reads_no_record() -> None:
    record(target_id="first")
    with _seal_lock_held_by_another_connection(), transaction.atomic():
        record(target_id="waits", seal=False)
        with CaptureQueriesContext(connection) as captured:
            assert audit_chain_seal(wait=False) == 0

    [statement] = _statements(captured)
    assert "pg_try_advisory_xact_lock" in statement
    assert "audits_auditrecord" not in statement
    assert audit_chain_seal() == 1
    assert chain_verify().intact


@pytest.mark.django_db(transaction=True)
def test_a_writer_leaves_the_seal_to_a_thread_of_its_process_already_sealing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It tries no lock; the thread at work seals again when it is done, and takes it."""
    from audits import services

    record(target_id="first")
    working, go_on = threading.Event(), threading.Event()
    real_seal = services.audit_chain_seal
    passes: list[int] = []

    def first_pass_waits(**kwargs: object) -> int:
        if not passes:
            working.set()
            go_on.wait(timeout=30)
        passes.append(real_seal(**kwargs))  # type: ignore[arg-type]
        return passes[-1]

    monkeypatch.setattr(services, "audit_chain_seal", first_pass_waits)

    def sealer() -> None:
        try:
            services.audit_chain_seal_soon()
        finally:
            connection.close()

    thread = threading.Thread(target=sealer)
    thread.start()
    try:
        assert working.wait(timeout=10)
        with CaptureQueriesContext(connection) as captured:
            written = record(target_id="second", seal=False)  # its hook runs on the commit
        assert [q["sql"] for q in captured.captured_queries if "advisory" in q["sql"]] == []
        assert AuditRecord.objects.get(pk=written.pk).sequence is None
    finally:
        go_on.set()
        thread.join(timeout=30)

    # Its first pass, let go on only now, already sees the record; the raised flag makes it
    # look once more before it returns.
    assert passes == [1, 0]
    assert AuditRecord.objects.get(pk=written.pk).sequence == 2
    assert chain_verify().intact
