"""Uploads in the Django admin: found by owner, shown read-only, deleted through the service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from audits.models import AuditRecord
from content.models import Upload
from content.services import upload_create
from tests.content.uploads import TEXT, stored_files
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("upload_storage")]

UPLOADS_URL = reverse("admin:content_upload_changelist")


@pytest.fixture
def admin_browser(admin: Any) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def test_uploads_are_found_by_their_owners_username(admin_browser: Client) -> None:
    zoe, lei = UserFactory(username="zoë_ångström"), UserFactory(username="李雷")
    mine = upload_create(actor=zoe, name="zoë.txt", data=TEXT)
    upload_create(actor=lei, name="lei.txt", data=TEXT)

    response = admin_browser.get(UPLOADS_URL, {"q": "ångström"})

    assert [upload.pk for upload in response.context["cl"].result_list] == [mine.pk]


def test_an_upload_page_is_read_only(admin_browser: Client, author: Any) -> None:
    upload = upload_create(actor=author, name="a.txt", data=TEXT)

    page = admin_browser.get(reverse("admin:content_upload_change", args=[upload.pk]))
    edit = admin_browser.post(
        reverse("admin:content_upload_change", args=[upload.pk]), {"name": "renamed.txt"}
    )

    assert page.status_code == 200
    assert upload.file.name in page.content.decode()
    assert b'name="name"' not in page.content
    assert edit.status_code == 403
    assert Upload.objects.get(pk=upload.pk).name == "a.txt"
    assert admin_browser.get(reverse("admin:content_upload_add")).status_code == 403


def test_deleting_in_the_admin_removes_the_file_and_is_audited(
    admin_browser: Client,
    author: Any,
    upload_storage: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    upload = upload_create(actor=author, name="a.txt", data=TEXT)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_browser.post(
            reverse("admin:content_upload_delete", args=[upload.pk]), {"post": "yes"}
        )

    assert response.status_code == 302
    assert not Upload.objects.exists()
    assert stored_files(upload_storage) == []
    assert AuditRecord.objects.filter(action="upload.deleted").count() == 1


def test_the_delete_action_deletes_each_through_the_service(
    admin_browser: Client, author: Any
) -> None:
    uploads = [upload_create(actor=author, name=f"{i}.txt", data=TEXT) for i in range(2)]

    admin_browser.post(
        UPLOADS_URL,
        {
            "action": "delete_selected",
            "_selected_action": [str(upload.pk) for upload in uploads],
            "post": "yes",
        },
    )

    assert not Upload.objects.exists()
    assert AuditRecord.objects.filter(action="upload.deleted").count() == 2
