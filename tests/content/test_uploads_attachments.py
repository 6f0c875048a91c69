"""Posts take `attachments` (up to 10 of the caller's own uploads) and show them as uploads."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from audits.models import AuditRecord
from content.models import PostAttachment, PostStatus, Upload
from content.services import upload_create, upload_delete, upload_thumbnails_make
from tests.content.factories import PostFactory
from tests.content.uploads import TEXT, image_bytes
from tests.openapi import assert_matches

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("upload_storage")]

POSTS = "/api/v1/posts"


def _uploads(owner: Any, count: int) -> list[Upload]:
    return [upload_create(actor=owner, name=f"{i}.txt", data=TEXT) for i in range(count)]


def _ids(uploads: list[Upload]) -> list[str]:
    return [str(upload.pk) for upload in uploads]


def _create(client: APIClient, **fields: Any) -> Any:
    return client.post(POSTS, {"title": "Anhänge", "status": "published", **fields}, format="json")


def _attachment_errors(response: Any) -> list[str]:
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return error["details"]["attachments"]


# --- create and update ----------------------------------------------------------------------


def test_a_post_shows_its_attachments_as_uploads_in_the_given_order(
    author: Any, author_client: APIClient
) -> None:
    first, second = _uploads(author, 2)

    response = _create(author_client, attachments=_ids([second, first]))

    assert response.status_code == 201
    body = response.json()
    assert [item["id"] for item in body["attachments"]] == _ids([second, first])
    assert body["attachments"][0]["url"].endswith(f"/api/v1/uploads/{second.pk}/content")
    assert body["attachments"][0]["owner"] == {"id": str(author.pk), "username": author.username}
    assert_matches(body, "/api/v1/posts", "post", 201)


def test_a_post_without_attachments_shows_an_empty_list(author_client: APIClient) -> None:
    assert _create(author_client).json()["attachments"] == []


def test_repeated_ids_attach_once(author: Any, author_client: APIClient) -> None:
    (upload,) = _uploads(author, 1)

    body = _create(author_client, attachments=_ids([upload, upload])).json()

    assert [item["id"] for item in body["attachments"]] == _ids([upload])


def test_others_uploads_cannot_be_attached(other: Any, author_client: APIClient) -> None:
    (theirs,) = _uploads(other, 1)

    errors = _attachment_errors(_create(author_client, attachments=_ids([theirs])))

    assert str(theirs.pk) in errors[0]


def test_unknown_uploads_cannot_be_attached(author_client: APIClient) -> None:
    unknown = str(uuid.uuid4())

    errors = _attachment_errors(_create(author_client, attachments=[unknown]))

    assert unknown in errors[0]


def test_at_most_ten_attachments(author: Any, author_client: APIClient) -> None:
    uploads = _uploads(author, 11)

    _attachment_errors(_create(author_client, attachments=_ids(uploads)))
    assert _create(author_client, attachments=_ids(uploads[:10])).status_code == 201


def test_attachments_are_upload_ids(author_client: APIClient) -> None:
    _attachment_errors(_create(author_client, attachments=["not-an-id"]))


def test_a_refused_attachment_writes_no_post(other: Any, author_client: APIClient) -> None:
    (theirs,) = _uploads(other, 1)

    _create(author_client, attachments=_ids([theirs]))

    assert author_client.get(POSTS, {"status": "published"}).json()["count"] == 0


def test_an_update_replaces_the_attachments(author: Any, author_client: APIClient) -> None:
    first, second, third = _uploads(author, 3)
    post_id = _create(author_client, attachments=_ids([first, second])).json()["id"]

    response = author_client.patch(
        f"{POSTS}/{post_id}", {"attachments": _ids([third, first])}, format="json"
    )

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["attachments"]] == _ids([third, first])


def test_an_update_without_attachments_keeps_them(author: Any, author_client: APIClient) -> None:
    uploads = _uploads(author, 2)
    post_id = _create(author_client, attachments=_ids(uploads)).json()["id"]

    patched = author_client.patch(f"{POSTS}/{post_id}", {"title": "Neu"}, format="json")
    put = author_client.put(f"{POSTS}/{post_id}", {"title": "Neuer"}, format="json")

    assert [item["id"] for item in patched.json()["attachments"]] == _ids(uploads)
    assert [item["id"] for item in put.json()["attachments"]] == _ids(uploads)


def test_an_empty_list_takes_every_attachment_off(author: Any, author_client: APIClient) -> None:
    post_id = _create(author_client, attachments=_ids(_uploads(author, 2))).json()["id"]

    response = author_client.patch(f"{POSTS}/{post_id}", {"attachments": []}, format="json")

    assert response.json()["attachments"] == []
    assert not PostAttachment.objects.filter(post_id=post_id).exists()


def test_an_update_may_not_attach_others_uploads(
    author: Any, other: Any, author_client: APIClient
) -> None:
    post_id = _create(author_client).json()["id"]
    (theirs,) = _uploads(other, 1)

    response = author_client.patch(
        f"{POSTS}/{post_id}", {"attachments": _ids([theirs])}, format="json"
    )

    _attachment_errors(response)


def test_an_admin_editing_a_post_keeps_the_authors_attachments_but_adds_only_their_own(
    author: Any, admin: Any, author_client: APIClient, admin_client: APIClient
) -> None:
    shown, unshown = _uploads(author, 2)
    (admins,) = _uploads(admin, 1)
    post_id = _create(author_client, attachments=_ids([shown])).json()["id"]

    kept = admin_client.patch(
        f"{POSTS}/{post_id}", {"attachments": _ids([shown, admins])}, format="json"
    )
    refused = admin_client.patch(
        f"{POSTS}/{post_id}", {"attachments": _ids([shown, unshown])}, format="json"
    )

    assert [item["id"] for item in kept.json()["attachments"]] == _ids([shown, admins])
    assert str(unshown.pk) in _attachment_errors(refused)[0]


def test_attachment_changes_are_audited(author: Any, author_client: APIClient) -> None:
    first, second = _uploads(author, 2)
    post_id = _create(author_client, attachments=_ids([first])).json()["id"]

    author_client.patch(f"{POSTS}/{post_id}", {"attachments": _ids([second])}, format="json")

    records = AuditRecord.objects.filter(target_type="post", target_id=post_id)
    assert records.get(action="post.created").changes["attachments"] == [None, _ids([first])]
    assert records.get(action="post.updated").changes == {
        "attachments": [_ids([first]), _ids([second])]
    }


# --- bulk -----------------------------------------------------------------------------------


def test_bulk_create_attaches_per_item(author: Any, author_client: APIClient) -> None:
    first, second = _uploads(author, 2)

    response = author_client.post(
        f"{POSTS}/bulk",
        {"items": [{"title": "Eins", "attachments": _ids([first, second])}, {"title": "Zwei"}]},
        format="json",
    )

    assert response.status_code == 201
    results = response.json()["results"]
    assert [[a["id"] for a in item["attachments"]] for item in results] == [
        _ids([first, second]),
        [],
    ]


def test_bulk_create_refuses_a_foreign_attachment_by_index(
    author: Any, other: Any, author_client: APIClient
) -> None:
    (mine,) = _uploads(author, 1)
    (theirs,) = _uploads(other, 1)

    response = author_client.post(
        f"{POSTS}/bulk",
        {
            "items": [
                {"title": "Eins", "attachments": _ids([mine])},
                {"title": "Zwei", "attachments": _ids([theirs])},
            ]
        },
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()["error"]["details"]["items"]) == {"1"}
    assert set(response.json()["error"]["details"]["items"]["1"]) == {"attachments"}
    assert not PostAttachment.objects.exists()


def test_bulk_update_changes_attachments(author: Any, author_client: APIClient) -> None:
    first, second = _uploads(author, 2)
    post_id = _create(author_client, attachments=_ids([first])).json()["id"]

    response = author_client.patch(
        f"{POSTS}/bulk",
        {"items": [{"id": post_id, "attachments": _ids([second, first])}]},
        format="json",
    )

    assert response.status_code == 200
    attachments = response.json()["results"][0]["attachments"]
    assert [item["id"] for item in attachments] == _ids([second, first])


def test_bulk_update_refuses_a_foreign_attachment_by_index(
    author: Any, other: Any, author_client: APIClient
) -> None:
    post_id = _create(author_client).json()["id"]
    (theirs,) = _uploads(other, 1)

    response = author_client.patch(
        f"{POSTS}/bulk", {"items": [{"id": post_id, "attachments": _ids([theirs])}]}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["error"]["details"]["items"]["0"]) == {"attachments"}


# --- reading: lists and details, their query counts and caches -------------------------------


@pytest.mark.parametrize("limit", [2, 10])
def test_the_post_list_shows_attachments_with_a_constant_number_of_queries(
    api_client: APIClient, django_assert_num_queries: Any, limit: int
) -> None:
    for _ in range(12):
        post = PostFactory(tags=["köln"])
        for position, upload in enumerate(_uploads(post.author, 2)):
            PostAttachment.objects.create(post=post, upload=upload, position=position)

    # count, page, tags, attachments with their uploads and owners
    with django_assert_num_queries(4):
        response = api_client.get(POSTS, {"limit": limit, "status": "published"})

    results = response.json()["results"]
    assert len(results) == limit
    assert all(len(item["attachments"]) == 2 for item in results)
    assert_matches(response.json(), "/api/v1/posts", "get", 200)


def test_a_post_detail_shows_attachments_in_three_queries(
    author: Any, api_client: APIClient, django_assert_num_queries: Any
) -> None:
    post = PostFactory(author=author)
    for position, upload in enumerate(_uploads(author, 3)):
        PostAttachment.objects.create(post=post, upload=upload, position=position)

    # post with author, tags, attachments
    with django_assert_num_queries(3):
        response = api_client.get(f"{POSTS}/{post.pk}")

    assert len(response.json()["attachments"]) == 3
    assert_matches(response.json(), "/api/v1/posts/{id}", "get", 200)


def test_a_drafts_attachments_show_to_its_author(author: Any, author_client: APIClient) -> None:
    (upload,) = _uploads(author, 1)
    post_id = _create(author_client, status="draft", attachments=_ids([upload])).json()["id"]

    body = author_client.get(f"{POSTS}/{post_id}").json()

    assert body["status"] == PostStatus.DRAFT
    assert [item["id"] for item in body["attachments"]] == _ids([upload])


def test_the_cached_public_detail_follows_attachment_changes(
    author: Any,
    author_client: APIClient,
    api_client: APIClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    first, second = _uploads(author, 2)
    post_id = _create(author_client, attachments=_ids([first])).json()["id"]
    api_client.get(f"{POSTS}/{post_id}")
    assert api_client.get(f"{POSTS}/{post_id}")["X-Cache"] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        author_client.patch(f"{POSTS}/{post_id}", {"attachments": _ids([second])}, format="json")
    response = api_client.get(f"{POSTS}/{post_id}")

    assert response["X-Cache"] == "miss"
    assert [item["id"] for item in response.json()["attachments"]] == _ids([second])


def test_the_cached_feed_and_detail_forget_a_deleted_attachment(
    author: Any, api_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    (upload,) = _uploads(author, 1)
    post = PostFactory(author=author)
    PostAttachment.objects.create(post=post, upload=upload, position=0)
    api_client.get(POSTS)
    api_client.get(f"{POSTS}/{post.pk}")

    with django_capture_on_commit_callbacks(execute=True):
        upload_delete(actor=author, upload_id=upload.pk)

    assert api_client.get(f"{POSTS}/{post.pk}").json()["attachments"] == []
    assert api_client.get(POSTS).json()["results"][0]["attachments"] == []


def test_the_cached_detail_shows_thumbnails_once_they_are_made(
    author: Any, api_client: APIClient
) -> None:
    upload = upload_create(actor=author, name="bild.png", data=image_bytes("PNG", (40, 20)))
    post = PostFactory(author=author)
    PostAttachment.objects.create(post=post, upload=upload, position=0)
    assert api_client.get(f"{POSTS}/{post.pk}").json()["attachments"][0]["thumbnails"] == {}

    upload_thumbnails_make(upload_id=str(upload.pk))

    thumbnails = api_client.get(f"{POSTS}/{post.pk}").json()["attachments"][0]["thumbnails"]
    assert sorted(thumbnails) == ["1024", "256"]
