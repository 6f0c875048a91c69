"""The audit admin: read-only but for status and note; redaction and triage through services."""

from __future__ import annotations

import pytest

from audits.chain import chain_verify
from audits.models import AuditRecord
from tests.audits.helpers import only_record, record
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/audits/auditrecord/"


@pytest.fixture
def admin():
    return AdminFactory()


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def test_the_list_and_a_record_load(admin_client) -> None:
    gone = UserFactory()
    target = record(actor=gone, changes={"title": ["Grüße", "Grüße 🌍"]})
    gone.delete()

    listing = admin_client.get(CHANGELIST)
    page = admin_client.get(f"{CHANGELIST}{target.pk}/change/")

    assert (listing.status_code, page.status_code) == (200, 200)


def test_records_cannot_be_added_or_deleted(admin_client) -> None:
    target = record()

    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert admin_client.post(f"{CHANGELIST}{target.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditRecord.objects.filter(pk=target.pk).exists()


def test_search_finds_a_request_id(admin_client) -> None:
    wanted = record(request_id="req-find-me")
    record(request_id="req-other")

    response = admin_client.get(CHANGELIST, {"q": "req-find-me"})

    assert list(response.context["cl"].result_list) == [wanted]


def test_saving_the_form_changes_only_status_and_note_through_the_service(
    admin, admin_client
) -> None:
    target = record()

    admin_client.post(
        f"{CHANGELIST}{target.pk}/change/",
        {"status": "resolved", "note": "Handled by Ελένη", "action": "forged.action"},
    )

    target.refresh_from_db()
    assert (target.status, target.note, target.action) == (
        "resolved",
        "Handled by Ελένη",
        "invoice.paid",
    )
    assert only_record("audit.updated").actor_id == admin.pk


def test_the_redact_action_redacts_through_the_service(admin, admin_client) -> None:
    target = record(changes={"email": [None, "anna@example.org"]}, ip="10.0.0.1")

    admin_client.post(CHANGELIST, {"action": "redact", "_selected_action": [target.pk]})

    target.refresh_from_db()
    assert (target.redacted, target.changes, target.ip) == (True, {}, None)
    assert only_record("audit.redacted").actor_id == admin.pk
    assert chain_verify().intact


def test_the_resolve_action_sets_the_status(admin_client) -> None:
    targets = [record(target_id=str(n)) for n in range(2)]

    admin_client.post(
        CHANGELIST, {"action": "resolve", "_selected_action": [t.pk for t in targets]}
    )

    assert set(
        AuditRecord.objects.filter(action="invoice.paid").values_list("status", flat=True)
    ) == {"resolved"}
    assert AuditRecord.objects.filter(action="audit.updated").count() == 2
