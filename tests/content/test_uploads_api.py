"""`/api/v1/uploads`: create, list one's own, read, download, delete; who may see what."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from audits.models import AuditRecord
from content.models import PostAttachment, PostStatus, Upload
from content.services import upload_create
from tests.content.conftest import client_for
from tests.content.factories import PostFactory
from tests.content.uploads import (
    PDF,
    TEXT,
    URL,
    error_of,
    file,
    image_bytes,
    post_file,
    sha256,
    stored_files,
)
from tests.factories import UserFactory
from tests.openapi import assert_matches

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("upload_storage")]


def _attached(upload: Upload, **post: Any) -> Any:
    """A post showing `upload` (published unless told otherwise)."""
    attached_to = PostFactory(author=upload.owner, **post)
    PostAttachment.objects.create(post=attached_to, upload=upload, position=0)
    return attached_to


# --- create ---------------------------------------------------------------------------------


def test_create_answers_201_with_the_upload(author: Any, author_client: APIClient) -> None:
    data = image_bytes("PNG", (5, 4))

    response = post_file(author_client, "Zoë's plan.png", data)

    assert response.status_code == 201
    body = response.json()
    assert body == {
        "id": body["id"],
        "name": "Zoë's plan.png",
        "content_type": "image/png",
        "size": len(data),
        "sha256": sha256(data),
        "url": f"{settings.SITE_URL}/api/v1/uploads/{body['id']}/content",
        "kind": "image",
        "thumbnails": {},
        "owner": {"id": str(author.pk), "username": author.username},
        "created_at": body["created_at"],
    }
    assert_matches(body, "/api/v1/uploads", "post", 201)


def test_the_id_is_a_uuid7(author_client: APIClient) -> None:
    body = post_file(author_client, "a.txt", TEXT).json()

    assert body["id"][14] == "7"


def test_create_is_served_with_and_without_the_trailing_slash(author_client: APIClient) -> None:
    with_slash = author_client.post(f"{URL}/", {"file": file("a.txt", TEXT)}, format="multipart")
    without = author_client.post(URL, {"file": file("b.txt", TEXT)}, format="multipart")

    assert (with_slash.status_code, without.status_code) == (201, 201)


def test_a_missing_file_is_a_400_on_file(author_client: APIClient) -> None:
    response = author_client.post(URL, {"note": "no file"}, format="multipart")

    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"file"}


def test_a_file_sent_as_a_plain_field_is_a_400_on_file(author_client: APIClient) -> None:
    response = author_client.post(URL, {"file": "just text"}, format="multipart")

    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"file"}


def test_a_json_body_is_a_415(author_client: APIClient) -> None:
    response = author_client.post(URL, {"file": "aGVsbG8="}, format="json")

    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_a_guest_may_not_upload(guest_client: APIClient) -> None:
    response = post_file(guest_client, "a.txt", TEXT)

    assert response.status_code == 403
    assert error_of(response)["code"] == "email_not_verified"


def test_anonymous_clients_may_not_upload(api_client: APIClient) -> None:
    response = post_file(api_client, "a.txt", TEXT)

    assert response.status_code == 401


def test_a_retried_create_with_its_idempotency_key_stores_once(author_client: APIClient) -> None:
    first = post_file(author_client, "a.txt", TEXT, HTTP_IDEMPOTENCY_KEY="upload-1")
    again = post_file(author_client, "a.txt", TEXT, HTTP_IDEMPOTENCY_KEY="upload-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Upload.objects.count() == 1


def test_the_same_key_with_other_bytes_is_a_conflict(author_client: APIClient) -> None:
    post_file(author_client, "a.txt", TEXT, HTTP_IDEMPOTENCY_KEY="upload-2")

    response = post_file(author_client, "a.txt", b"other", HTTP_IDEMPOTENCY_KEY="upload-2")

    assert response.status_code == 409


def test_create_and_delete_leave_audit_records(author: Any, author_client: APIClient) -> None:
    upload_id = post_file(author_client, "a.txt", TEXT).json()["id"]
    author_client.delete(f"{URL}/{upload_id}")

    records = AuditRecord.objects.filter(target_type="upload", target_id=upload_id)
    assert sorted(records.values_list("action", flat=True)) == ["upload.created", "upload.deleted"]
    created = records.get(action="upload.created")
    assert created.changes["sha256"] == [None, sha256(TEXT)]


# --- list -----------------------------------------------------------------------------------


def test_the_list_holds_only_the_callers_uploads_newest_first(
    author: Any, author_client: APIClient, other: Any, admin_client: APIClient
) -> None:
    older = upload_create(actor=author, name="older.txt", data=TEXT)
    newer = upload_create(actor=author, name="newer.txt", data=TEXT)
    upload_create(actor=other, name="theirs.txt", data=TEXT)

    body = author_client.get(URL).json()

    assert body["count"] == 2
    assert [item["id"] for item in body["results"]] == [str(newer.pk), str(older.pk)]
    assert admin_client.get(URL).json()["count"] == 0
    assert_matches(body, "/api/v1/uploads", "get", 200)


def test_the_list_pages_and_orders(author: Any, author_client: APIClient) -> None:
    for size in (3, 1, 2):
        upload_create(actor=author, name=f"{size}.txt", data=b"x" * size)

    page = author_client.get(URL, {"ordering": "size", "limit": 2}).json()
    cursor = author_client.get(URL, {"pagination": "cursor", "limit": 2}).json()

    assert [item["size"] for item in page["results"]] == [1, 2]
    assert page["next"] is not None
    assert len(cursor["results"]) == 2
    assert author_client.get(URL, {"ordering": "owner"}).status_code == 400


def test_anonymous_clients_have_no_list(api_client: APIClient) -> None:
    assert api_client.get(URL).status_code == 401


@pytest.mark.parametrize("limit", [2, 10])
def test_the_list_query_count_does_not_grow_with_page_size(
    author: Any, author_client: APIClient, django_assert_num_queries: Any, limit: int
) -> None:
    for index in range(12):
        upload_create(actor=author, name=f"{index}.txt", data=TEXT)

    # login session with its user, count, page with owners
    with django_assert_num_queries(3):
        response = author_client.get(URL, {"limit": limit})

    assert len(response.json()["results"]) == limit


# --- read and download ----------------------------------------------------------------------


def test_the_owner_reads_an_upload(author: Any, author_client: APIClient) -> None:
    upload = upload_create(actor=author, name="a.txt", data=TEXT)

    response = author_client.get(f"{URL}/{upload.pk}/")

    assert response.status_code == 200
    assert_matches(response.json(), "/api/v1/uploads/{id}", "get", 200)


def test_the_content_is_the_bytes_with_the_stored_type(
    author: Any, author_client: APIClient
) -> None:
    data = image_bytes("JPEG", (8, 8))
    upload = upload_create(actor=author, name="Straße 1.png", data=data)

    response = author_client.get(f"{URL}/{upload.pk}/content")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Length"] == str(len(data))
    assert response["Content-Disposition"] == "inline; filename*=utf-8''Stra%C3%9Fe%201.png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "private"


@pytest.mark.parametrize(("name", "data"), [("doc.pdf", PDF), ("notes.txt", TEXT)])
def test_documents_download_as_sandboxed_attachments(
    author: Any, author_client: APIClient, name: str, data: bytes
) -> None:
    upload = upload_create(actor=author, name=name, data=data)

    response = author_client.get(f"{URL}/{upload.pk}/content/")

    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert b"".join(response.streaming_content) == data


def test_quotes_in_a_name_cannot_break_the_header(author: Any, author_client: APIClient) -> None:
    upload = upload_create(actor=author, name='a"; filename="evil.html', data=TEXT)

    response = author_client.get(f"{URL}/{upload.pk}/content")

    assert response["Content-Disposition"] == 'attachment; filename="a\\"; filename=\\"evil.html"'


def test_a_thumbnail_is_404_until_it_is_made(author: Any, author_client: APIClient) -> None:
    upload = upload_create(actor=author, name="a.png", data=image_bytes())

    response = author_client.get(f"{URL}/{upload.pk}/thumbnails/256")

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_a_made_thumbnail_is_served_as_webp(author: Any, author_client: APIClient) -> None:
    upload = upload_create(actor=author, name="plan.png", data=image_bytes())
    name = default_storage.save("uploads/thumbnails/x-256.webp", ContentFile(b"RIFF....WEBP"))
    Upload.objects.filter(pk=upload.pk).update(thumbnails={"256": name})

    response = author_client.get(f"{URL}/{upload.pk}/thumbnails/256")
    other_size = author_client.get(f"{URL}/{upload.pk}/thumbnails/1024")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["Content-Disposition"] == 'inline; filename="plan-256.webp"'
    assert b"".join(response.streaming_content) == b"RIFF....WEBP"
    assert other_size.status_code == 404
    body = author_client.get(f"{URL}/{upload.pk}").json()
    assert body["thumbnails"] == {
        "256": f"{settings.SITE_URL}/api/v1/uploads/{upload.pk}/thumbnails/256"
    }


def test_a_stored_file_gone_missing_is_a_404_not_a_500(
    author: Any, author_client: APIClient
) -> None:
    upload = upload_create(actor=author, name="a.txt", data=TEXT)
    default_storage.delete(upload.file.name)

    response = author_client.get(f"{URL}/{upload.pk}/content")

    assert response.status_code == 404


# --- who may read ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/content"])
def test_others_see_an_unattached_upload_as_missing(
    author: Any,
    other_client: APIClient,
    api_client: APIClient,
    guest_client: APIClient,
    suffix: str,
) -> None:
    upload = upload_create(actor=author, name="private.txt", data=TEXT)

    answers = {
        client.get(f"{URL}/{upload.pk}{suffix}").status_code
        for client in (other_client, api_client, guest_client)
    }

    assert answers == {404}


@pytest.mark.parametrize("suffix", ["", "/content"])
def test_admins_read_any_upload(author: Any, admin_client: APIClient, suffix: str) -> None:
    upload = upload_create(actor=author, name="private.txt", data=TEXT)

    assert admin_client.get(f"{URL}/{upload.pk}{suffix}").status_code == 200


@pytest.mark.parametrize("suffix", ["", "/content"])
def test_anyone_reads_an_upload_attached_to_a_published_post(
    author: Any, other_client: APIClient, api_client: APIClient, suffix: str
) -> None:
    upload = upload_create(actor=author, name="shared.txt", data=TEXT)
    _attached(upload)

    assert api_client.get(f"{URL}/{upload.pk}{suffix}").status_code == 200
    assert other_client.get(f"{URL}/{upload.pk}{suffix}").status_code == 200


def test_an_archived_posts_attachment_stays_readable(author: Any, api_client: APIClient) -> None:
    upload = upload_create(actor=author, name="shared.txt", data=TEXT)
    _attached(upload, status=PostStatus.ARCHIVED)

    assert api_client.get(f"{URL}/{upload.pk}").status_code == 200


def test_a_draft_posts_attachment_stays_hidden(
    author: Any, author_client: APIClient, other_client: APIClient, api_client: APIClient
) -> None:
    upload = upload_create(actor=author, name="draft.txt", data=TEXT)
    _attached(upload, status=PostStatus.DRAFT)

    assert api_client.get(f"{URL}/{upload.pk}").status_code == 404
    assert other_client.get(f"{URL}/{upload.pk}/content").status_code == 404
    assert author_client.get(f"{URL}/{upload.pk}").status_code == 200


def test_a_deleted_posts_attachment_stays_hidden(author: Any, api_client: APIClient) -> None:
    upload = upload_create(actor=author, name="gone.txt", data=TEXT)
    _attached(upload, deleted=True)

    assert api_client.get(f"{URL}/{upload.pk}").status_code == 404


def test_a_malformed_id_is_a_404(author_client: APIClient) -> None:
    for path in ("not-a-uuid", "not-a-uuid/content", "not-a-uuid/thumbnails/256"):
        assert author_client.get(f"{URL}/{path}").status_code == 404
    assert author_client.delete(f"{URL}/not-a-uuid").status_code == 404


# --- delete ---------------------------------------------------------------------------------


def test_delete_removes_the_row_its_file_and_its_thumbnails(
    author: Any, upload_storage: Path, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(author)
    upload = upload_create(actor=author, name="a.png", data=image_bytes())
    thumbnail = default_storage.save("uploads/thumbnails/a-256.webp", ContentFile(b"webp"))
    Upload.objects.filter(pk=upload.pk).update(thumbnails={"256": thumbnail})

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"{URL}/{upload.pk}/")

    assert response.status_code == 204
    assert not Upload.objects.filter(pk=upload.pk).exists()
    assert stored_files(upload_storage) == []


def test_deleting_an_upload_takes_it_off_its_posts(author: Any, author_client: APIClient) -> None:
    upload = upload_create(actor=author, name="a.txt", data=TEXT)
    post = _attached(upload)

    author_client.delete(f"{URL}/{upload.pk}")

    assert author_client.get(f"/api/v1/posts/{post.pk}").json()["attachments"] == []


def test_an_admin_deletes_anyones_upload(author: Any, admin_client: APIClient) -> None:
    upload = upload_create(actor=author, name="a.txt", data=TEXT)

    assert admin_client.delete(f"{URL}/{upload.pk}").status_code == 204


def test_a_reader_who_is_not_the_owner_may_not_delete(author: Any, other_client: APIClient) -> None:
    upload = upload_create(actor=author, name="a.txt", data=TEXT)
    _attached(upload)

    response = other_client.delete(f"{URL}/{upload.pk}")

    assert response.status_code == 403
    assert Upload.objects.filter(pk=upload.pk).exists()


def test_deleting_an_upload_one_cannot_see_is_a_404(author: Any, other_client: APIClient) -> None:
    upload = upload_create(actor=author, name="a.txt", data=TEXT)

    assert other_client.delete(f"{URL}/{upload.pk}").status_code == 404


def test_a_guest_deleting_is_refused_for_the_email(author: Any, guest_client: APIClient) -> None:
    upload = upload_create(actor=author, name="a.txt", data=TEXT)

    assert error_of(guest_client.delete(f"{URL}/{upload.pk}"))["code"] == "email_not_verified"


def test_uploads_of_several_users_do_not_mix(api_client: APIClient) -> None:
    users = UserFactory.create_batch(2)
    ids = [upload_create(actor=user, name="a.txt", data=TEXT).pk for user in users]

    listed = [client_for(user).get(URL).json()["results"][0]["id"] for user in users]

    assert listed == [str(upload_id) for upload_id in ids]
