"""`/api/v1/audits`: who may do what, filters, pages, triage and redaction over HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import api_key_create, api_key_revoke
from audits.chain import chain_verify
from audits.models import AuditRecord
from tests.accounts.helpers import authed
from tests.audits.helpers import AUDITS_URL, only_record, record
from tests.factories import AdminFactory, UserFactory, token_pair

pytestmark = pytest.mark.django_db

EVENT = {
    "action": "invoice.paid",
    "target_type": "invoice",
    "target_id": "INV-2026-0042",
    "changes": {"status": ["due", "paid"], "payer": [None, "Siobhán O'Brien"]},
}
RECORD_FIELDS = {
    "id",
    "sequence",
    "occurred_at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "changes",
    "request_id",
    "ip",
    "user_agent",
    "status",
    "note",
    "hash",
    "redacted",
}


def _client(user: User) -> APIClient:
    return authed(token_pair(user).access_token)


def _key_client(user: User) -> APIClient:
    _, secret = api_key_create(user=user, name="billing service")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    return client


def _detail(target: AuditRecord) -> str:
    return f"{AUDITS_URL}/{target.pk}"


@pytest.fixture
def admin() -> User:
    return AdminFactory()


@pytest.fixture
def admin_client(admin: User) -> APIClient:
    return _client(admin)


# --- who may do what ------------------------------------------------------------------------


def test_anonymous_callers_get_401(api_client) -> None:
    response = api_client.get(AUDITS_URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_users_get_403() -> None:
    response = _client(UserFactory()).get(AUDITS_URL)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_admins_list_records_newest_first(admin_client) -> None:
    first, second = record(target_id="1"), record(target_id="2")

    body = admin_client.get(AUDITS_URL).json()

    ids = [item["id"] for item in body["results"]]
    assert ids[-2:] == [str(second.pk), str(first.pk)]
    assert set(body["results"][0]) == RECORD_FIELDS


def test_the_path_is_served_with_and_without_its_trailing_slash(admin_client) -> None:
    assert admin_client.get(AUDITS_URL).status_code == 200
    assert admin_client.get(f"{AUDITS_URL}/").status_code == 200
    assert admin_client.post(f"{AUDITS_URL}/", EVENT, format="json").status_code == 201


def test_a_service_api_key_reports_an_event_as_its_owner() -> None:
    owner = AdminFactory()
    client = _key_client(owner)

    response = client.post(
        AUDITS_URL,
        EVENT,
        format="json",
        HTTP_X_REQUEST_ID="billing-run-7",
        HTTP_USER_AGENT="billing/2.1",
    )

    body = response.json()
    assert response.status_code == 201
    assert body["actor"] == {"id": str(owner.pk), "username": owner.username}
    assert (body["action"], body["target_id"], body["changes"]) == (
        "invoice.paid",
        "INV-2026-0042",
        EVENT["changes"],
    )
    assert (body["request_id"], body["ip"], body["user_agent"]) == (
        "billing-run-7",
        "127.0.0.1",
        "billing/2.1",
    )
    assert AuditRecord.objects.filter(pk=body["id"], actor=owner).exists()


def test_a_plain_users_api_key_cannot_report_events() -> None:
    """A key acts with its owner's role: only an admin's key is a service key here."""
    response = _key_client(UserFactory()).post(AUDITS_URL, EVENT, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not AuditRecord.objects.filter(action="invoice.paid").exists()


def test_a_plain_users_key_cannot_read_the_trail() -> None:
    target = record()
    client = _key_client(UserFactory())

    assert client.get(AUDITS_URL).status_code == 403
    assert client.get(_detail(target)).status_code == 403
    assert client.delete(_detail(target)).status_code == 403


def test_an_admins_key_reads_the_trail() -> None:
    assert _key_client(AdminFactory()).get(AUDITS_URL).status_code == 200


def test_a_users_bearer_token_cannot_report_events() -> None:
    response = _client(UserFactory()).post(AUDITS_URL, EVENT, format="json")

    assert response.status_code == 403
    assert not AuditRecord.objects.filter(action="invoice.paid").exists()


def test_anonymous_callers_cannot_report_events(api_client) -> None:
    assert api_client.post(AUDITS_URL, EVENT, format="json").status_code == 401


def test_a_revoked_key_is_refused() -> None:
    owner = AdminFactory()
    key, secret = api_key_create(user=owner, name="old")
    api_key_revoke(key=key)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)

    assert client.post(AUDITS_URL, EVENT, format="json").status_code == 401


# --- reporting events -----------------------------------------------------------------------


def test_an_event_without_changes_is_fine(admin_client) -> None:
    body = {"action": "deploy.finished", "target_type": "deploy", "target_id": ""}

    response = admin_client.post(AUDITS_URL, body, format="json")

    assert response.status_code == 201
    assert response.json()["changes"] == {}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**EVENT, "action": "user.login_succeeded", "target_type": "user"}, "action"),
        ({**EVENT, "action": "audit.redacted", "target_type": "audit"}, "action"),
        ({**EVENT, "action": "order.paid"}, "action"),
        ({**EVENT, "action": "invoice"}, "action"),
        ({**EVENT, "target_type": "in voice"}, "target_type"),
        ({**EVENT, "changes": {"status": "paid"}}, "changes"),
        ({**EVENT, "changes": {"status": ["due", "paid", "void"]}}, "changes"),
        ({**EVENT, "changes": ["status"]}, "changes"),
        ({**EVENT, "changes": {"status": ["due", "pa\x00id"]}}, "changes"),
        ({**EVENT, "changes": {"st\x00atus": ["due", "paid"]}}, "changes"),
        ({**EVENT, "target_id": "INV\x00"}, "target_id"),
        ({**EVENT, "target_id": "x" * 321}, "target_id"),
        ({k: v for k, v in EVENT.items() if k != "action"}, "action"),
    ],
)
def test_bad_events_are_a_400_and_store_nothing(admin_client, body: dict, field: str) -> None:
    response = admin_client.post(AUDITS_URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["details"]
    assert not AuditRecord.objects.exists()


def test_a_lone_surrogate_is_a_400_not_a_500(admin_client) -> None:
    raw = '{"action": "a.b", "target_type": "a", "target_id": "\\ud800"}'

    response = admin_client.post(AUDITS_URL, raw, content_type="application/json")

    assert response.status_code == 400


def test_a_body_that_is_not_json_is_a_400(admin_client) -> None:
    response = admin_client.post(AUDITS_URL, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_a_repeated_idempotency_key_writes_one_record(admin_client) -> None:
    first = admin_client.post(AUDITS_URL, EVENT, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = admin_client.post(AUDITS_URL, EVENT, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    assert AuditRecord.objects.filter(action="invoice.paid").count() == 1


# --- filters and pages ----------------------------------------------------------------------


@pytest.fixture
def mixed_trail() -> dict[str, Any]:
    alice, bob = UserFactory(), UserFactory()
    records = {
        "alice_paid": record("invoice.paid", actor=alice, target_id="A", request_id="r-1"),
        "bob_paid": record("invoice.paid", actor=bob, target_id="B", request_id="r-2"),
        "bob_shipped": record("parcel.shipped", actor=bob, target_id="B", request_id="r-2"),
    }
    AuditRecord.objects.filter(pk=records["alice_paid"].pk).update(
        occurred_at=timezone.now() - dt.timedelta(days=3)
    )
    AuditRecord.objects.filter(pk=records["bob_shipped"].pk).update(status="resolved")
    return {"alice": alice, "bob": bob, **records}


def _names(body: dict, trail: dict[str, Any]) -> set[str]:
    by_id = {str(v.pk): k for k, v in trail.items() if isinstance(v, AuditRecord)}
    return {by_id[item["id"]] for item in body["results"]}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "invoice.paid"}, {"alice_paid", "bob_paid"}),
        ({"target_type": "parcel"}, {"bob_shipped"}),
        ({"target_id": "B"}, {"bob_paid", "bob_shipped"}),
        ({"request_id": "r-1"}, {"alice_paid"}),
        ({"status": "resolved"}, {"bob_shipped"}),
        ({"status": "open", "target_id": "B"}, {"bob_paid"}),
    ],
)
def test_list_filters(admin_client, mixed_trail, params: dict, expected: set[str]) -> None:
    body = admin_client.get(AUDITS_URL, params).json()

    assert _names(body, mixed_trail) == expected
    assert body["count"] == len(expected)


def test_the_actor_filter_takes_a_user_id(admin_client, mixed_trail) -> None:
    body = admin_client.get(AUDITS_URL, {"actor": str(mixed_trail["bob"].pk)}).json()

    assert _names(body, mixed_trail) == {"bob_paid", "bob_shipped"}


def test_the_time_filters_take_dates_and_date_times(admin_client, mixed_trail) -> None:
    today = timezone.now().date()
    two_days_ago = (timezone.now() - dt.timedelta(days=2)).isoformat()

    recent = admin_client.get(AUDITS_URL, {"occurred_after": two_days_ago}).json()
    older = admin_client.get(
        AUDITS_URL, {"occurred_before": (today - dt.timedelta(days=1)).isoformat()}
    ).json()

    assert _names(recent, mixed_trail) == {"bob_paid", "bob_shipped"}
    assert _names(older, mixed_trail) == {"alice_paid"}


@pytest.mark.parametrize(
    "params",
    [
        {"actor": "not-a-uuid"},
        {"occurred_after": "yesterday"},
        {"occurred_before": "2026-13-01"},
        {"occurred_after": "2026-11-22T25:00:00Z"},
        {"status": "bogus"},
        {"action": "a\x00b"},
        {"target_id": "x" * 400},
    ],
)
def test_malformed_filters_are_a_400(admin_client, params: dict) -> None:
    response = admin_client.get(AUDITS_URL, params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert set(params) <= set(response.json()["error"]["details"])


def test_pages_default_to_20_and_stop_at_50(admin_client) -> None:
    for n in range(55):
        record(target_id=str(n))

    default = admin_client.get(AUDITS_URL).json()
    clamped = admin_client.get(AUDITS_URL, {"limit": 1000}).json()

    assert (default["count"], len(default["results"])) == (55, 20)
    assert len(clamped["results"]) == 50
    assert default["next"]


def test_cursor_pages_walk_the_trail_newest_first(admin_client) -> None:
    for n in range(5):
        record(target_id=str(n))

    first = admin_client.get(AUDITS_URL, {"cursor": "", "limit": 3}).json()
    second = admin_client.get(first["next"]).json()

    assert [item["sequence"] for item in first["results"]] == [5, 4, 3]
    assert [item["sequence"] for item in second["results"]] == [2, 1]


def test_records_awaiting_their_seal_come_first_with_null_chain_fields(admin_client) -> None:
    for n in range(3):
        record(target_id=f"sealed-{n}")
    for n in range(2):
        record(target_id=f"pending-{n}", seal=False)

    body = admin_client.get(AUDITS_URL).json()
    pages = admin_client.get(AUDITS_URL, {"cursor": "", "limit": 2}).json()
    rest = admin_client.get(pages["next"]).json()

    assert body["count"] == 5
    assert [(item["target_id"], item["sequence"]) for item in body["results"]] == [
        ("pending-1", None),
        ("pending-0", None),
        ("sealed-2", 3),
        ("sealed-1", 2),
        ("sealed-0", 1),
    ]
    assert [item["hash"] for item in body["results"][:2]] == [None, None]
    assert [item["target_id"] for item in pages["results"] + rest["results"]] == [
        item["target_id"] for item in body["results"][:4]
    ]


@pytest.mark.parametrize("limit", [5, 40])
def test_list_query_count_does_not_grow_with_page_size(
    admin_client, django_assert_num_queries, limit: int
) -> None:
    actors = UserFactory.create_batch(3)
    for n in range(limit):
        record(actor=actors[n % 3], target_id=str(n))

    with django_assert_num_queries(3):  # auth (user + session), count (chain head), page
        response = admin_client.get(AUDITS_URL, {"limit": limit})

    assert len(response.json()["results"]) == limit


@pytest.mark.parametrize("limit", [5, 40])
def test_filtered_list_query_count_does_not_grow_with_page_size(
    admin_client, django_assert_num_queries, limit: int
) -> None:
    actor = UserFactory()
    for n in range(limit):
        record(actor=actor, target_id=str(n))

    with django_assert_num_queries(3):  # auth, count, page
        admin_client.get(AUDITS_URL, {"limit": limit, "actor": str(actor.pk)})


# --- detail, triage, redaction --------------------------------------------------------------


def test_detail_shows_the_actor_and_content(admin_client) -> None:
    actor = UserFactory()
    target = record(actor=actor, changes={"x": [1, 2]}, ip="10.0.0.7", request_id="r-9")

    body = admin_client.get(_detail(target)).json()

    assert body["actor"] == {"id": str(actor.pk), "username": actor.username}
    assert (body["changes"], body["ip"], body["request_id"], body["hash"]) == (
        {"x": [1, 2]},
        "10.0.0.7",
        "r-9",
        target.hash,
    )


def test_a_deleted_actor_keeps_its_id(admin_client) -> None:
    actor = UserFactory()
    target = record(actor=actor)
    actor.delete()

    body = admin_client.get(_detail(target)).json()

    assert body["actor"] == {"id": str(target.actor_id), "username": None}
    assert chain_verify().intact


@pytest.mark.parametrize("record_id", ["019a8f3e-7c1d-7b2a-9f00-4c3e2d1b0a99", "nope"])
def test_unknown_records_are_a_404(admin_client, record_id: str) -> None:
    response = admin_client.get(f"{AUDITS_URL}/{record_id}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_patch_changes_status_and_note_and_records_the_edit(admin, admin_client) -> None:
    target = record()

    response = admin_client.patch(
        _detail(target),
        {"status": "acknowledged", "note": "Checked - Jürgen"},
        format="json",
        HTTP_X_REQUEST_ID="triage-1",
    )

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["note"]) == (
        "acknowledged",
        "Checked - Jürgen",
    )
    update = only_record("audit.updated")
    assert (update.actor_id, update.target_id, update.request_id) == (
        admin.pk,
        str(target.pk),
        "triage-1",
    )
    assert chain_verify().intact


@pytest.mark.parametrize(
    "body",
    [
        {"status": "resolved", "action": "invoice.voided"},
        {"changes": {}},
        {"hash": "0" * 64},
        {"redacted": True},
        {"note": "x", "actor": None},
    ],
)
def test_patch_with_any_other_field_is_a_400_and_changes_nothing(admin_client, body) -> None:
    target = record()

    response = admin_client.patch(_detail(target), body, format="json")

    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert set(body) - {"status", "note"} <= set(details)
    stored = AuditRecord.objects.get(pk=target.pk)
    assert (stored.status, stored.note, stored.action) == ("open", "", "invoice.paid")
    assert AuditRecord.objects.count() == 1


@pytest.mark.parametrize(
    "body", [{}, {"status": "closed"}, {"note": "a\x00b"}, {"note": "x" * 2001}, ["status"]]
)
def test_patch_with_bad_values_is_a_400(admin_client, body) -> None:
    response = admin_client.patch(_detail(record()), body, format="json")

    assert response.status_code == 400


def test_put_needs_both_fields(admin_client) -> None:
    target = record()

    partial = admin_client.put(_detail(target), {"status": "resolved"}, format="json")
    full = admin_client.put(_detail(target), {"status": "resolved", "note": ""}, format="json")

    assert partial.status_code == 400
    assert "note" in partial.json()["error"]["details"]
    assert (full.status_code, full.json()["status"]) == (200, "resolved")


def test_users_cannot_triage_or_redact() -> None:
    client = _client(UserFactory())
    target = record()

    assert client.patch(_detail(target), {"status": "resolved"}, format="json").status_code == 403
    assert client.delete(_detail(target)).status_code == 403
    assert AuditRecord.objects.count() == 1


def test_delete_redacts_and_the_record_still_answers(admin, admin_client) -> None:
    target = record(changes={"email": [None, "anna@example.org"]}, ip="10.1.2.3", user_agent="UA")
    admin_client.patch(_detail(target), {"note": "Anna's request"}, format="json")

    deleted = admin_client.delete(_detail(target), HTTP_X_REQUEST_ID="gdpr-17")
    after = admin_client.get(_detail(target))

    assert deleted.status_code == 204
    assert after.status_code == 200
    body = after.json()
    assert (body["changes"], body["ip"], body["user_agent"], body["note"], body["redacted"]) == (
        {},
        None,
        "",
        "",
        True,
    )
    assert (body["action"], body["hash"]) == ("invoice.paid", target.hash)
    redaction = only_record("audit.redacted")
    assert (redaction.actor_id, redaction.target_id, redaction.request_id) == (
        admin.pk,
        str(target.pk),
        "gdpr-17",
    )
    assert chain_verify().intact


def test_deleting_twice_redacts_once(admin_client) -> None:
    target = record()

    responses = [admin_client.delete(_detail(target)).status_code for _ in range(2)]

    assert responses == [204, 204]
    assert AuditRecord.objects.filter(action="audit.redacted").count() == 1


def test_a_redacted_record_takes_no_new_note(admin_client) -> None:
    target = record()
    admin_client.delete(_detail(target))

    response = admin_client.patch(_detail(target), {"note": "back again"}, format="json")

    assert response.status_code == 400
    assert "note" in response.json()["error"]["details"]
