"""Thumbnails end to end: an image upload writes a `thumbnail` job in its own transaction, a
real worker runs it, the upload's `thumbnails` fill in; the files are re-encoded without EXIF;
the job tells nobody (no notification). Clients may ask for the job again, for their own
images only."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image
from rest_framework.test import APIClient

from content.models import Upload
from realtime.models import Notification
from tasks.models import Job
from tasks.runner import job_run
from tests.content.uploads import PDF, image_bytes, post_file
from tests.factories import AdminFactory, UserFactory
from tests.tasks.jobs_http import client_for, error_of, job_url, post_job, wait_for

UPLOADS_URL = "/api/v1/uploads"
MAKE, MODEL, ORIENTATION, GPS = 0x010F, 0x0110, 0x0112, 0x8825
CAMERA = "Agora Kamera"


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    """Uploads and thumbnails in the test's own directory (the worker threads see it too)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.UPLOAD_PARTIAL_DIR = tmp_path / "partial"
    return settings.MEDIA_ROOT


def photo(image_format: str, size: tuple[int, int] = (600, 400)) -> bytes:
    """An image as a camera or phone writes it: EXIF with a maker, a model and a location."""
    exif = Image.Exif()
    exif[MAKE] = CAMERA
    exif[MODEL] = "Modell 7"
    exif[ORIENTATION] = 1
    exif.get_ifd(GPS).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)})
    output = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(output, format=image_format, exif=exif)
    return output.getvalue()


def upload(client: APIClient, name: str, data: bytes, **extra: Any) -> dict[str, Any]:
    response = post_file(client, name, data, **extra)
    assert response.status_code == 201, response.json()
    return response.json()


def thumbnail_job(upload_id: str) -> Job:
    return Job.objects.get(kind="thumbnail", params={"upload": upload_id})


def fetched(client: APIClient, url: str) -> bytes:
    response = client.get(urlsplit(url).path)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    return b"".join(response.streaming_content)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("image_format", "name"), [("JPEG", "Urlaub.jpg"), ("PNG", "Karte.png")])
def test_an_image_upload_runs_a_thumbnail_job_that_fills_in_its_thumbnails(
    celery_worker: Any, image_format: str, name: str
) -> None:
    owner = UserFactory()
    client = client_for(owner)
    original = photo(image_format)
    assert CAMERA.encode() in original
    exif = Image.open(io.BytesIO(original)).getexif()
    assert (exif[MAKE], exif.get_ifd(GPS)[1]) == (CAMERA, "N")

    created = upload(client, name, original, HTTP_X_REQUEST_ID="req-upload-1")
    assert created["thumbnails"] == {}
    [listed] = client.get("/api/v1/jobs", {"kind": "thumbnail"}).json()["results"]
    job = wait_for(listed["id"])

    assert listed["params"] == {"upload": created["id"]}
    assert (job.status, job.notify, job.request_id) == ("succeeded", False, "req-upload-1")
    thumbnails = client.get(f"{UPLOADS_URL}/{created['id']}").json()["thumbnails"]
    assert sorted(thumbnails) == ["1024", "256"]
    assert client.get(job_url(job.pk)).json()["result"] == thumbnails
    sizes = {}
    for size, url in thumbnails.items():
        data = fetched(client, url)
        image = Image.open(io.BytesIO(data))
        # Re-encoded (WebP, whatever came in), and nothing of the camera's metadata is left.
        assert (data[:4], data[8:12], image.format) == (b"RIFF", b"WEBP", "WEBP")
        assert not image.getexif()
        assert not {"exif", "xmp", "icc_profile"} & set(image.info)
        assert CAMERA.encode() not in data
        assert b"Exif" not in data
        sizes[size] = image.size
    # Longest side as asked, never bigger than the image.
    assert sizes == {"256": (256, 171), "1024": (600, 400)}
    # The job was the upload's own business: its owner hears nothing of it.
    assert not Notification.objects.filter(recipient=owner).exists()
    assert client.get("/api/v1/notifications").json()["results"] == []


@pytest.mark.django_db
def test_a_document_upload_writes_no_thumbnail_job(user: Any) -> None:
    upload(client_for(user), "Bericht.pdf", PDF)

    assert not Job.objects.exists()


@pytest.mark.django_db
def test_the_owner_asking_again_gets_the_uploads_own_job(user: Any) -> None:
    client = client_for(user)
    created = upload(client, "bild.png", image_bytes("PNG", (300, 200)))

    response = post_job(client, "thumbnail", {"upload": created["id"]})

    assert response.status_code == 202
    assert response.json()["id"] == str(thumbnail_job(created["id"]).pk)
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_a_thumbnail_job_for_a_document_upload_is_a_400(user: Any) -> None:
    client = client_for(user)
    document = upload(client, "Bericht.pdf", PDF)

    response = post_job(client, "thumbnail", {"upload": document["id"]})

    assert response.status_code == 400
    assert error_of(response)["details"] == {"params": {"upload": ["Only images have thumbnails."]}}
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_thumbnail_job_for_an_upload_the_caller_only_reads_is_a_400(user: Any) -> None:
    author = client_for(UserFactory())
    attached = upload(author, "anhang.png", image_bytes())
    post = author.post(
        "/api/v1/posts",
        {"title": "Mit Bild", "body": "…", "status": "published", "attachments": [attached["id"]]},
        format="json",
    )
    assert post.status_code == 201, post.json()
    reader = client_for(user)
    assert reader.get(f"{UPLOADS_URL}/{attached['id']}").status_code == 200

    response = post_job(reader, "thumbnail", {"upload": attached["id"]})

    assert response.status_code == 400
    assert list(error_of(response)["details"]["params"]) == ["upload"]
    assert not Job.objects.filter(owner=user).exists()


@pytest.mark.django_db
def test_an_admin_may_ask_for_anyones_thumbnails() -> None:
    theirs = upload(client_for(UserFactory()), "privat.png", image_bytes())

    response = post_job(client_for(AdminFactory()), "thumbnail", {"upload": theirs["id"]})

    assert response.status_code == 202


@pytest.mark.django_db
def test_an_upload_deleted_before_its_job_runs_ends_the_job_failed(user: Any) -> None:
    client = client_for(user)
    created = upload(client, "weg.png", image_bytes())
    assert client.delete(f"{UPLOADS_URL}/{created['id']}").status_code == 204

    job = thumbnail_job(created["id"])
    assert job_run(job_id=str(job.pk), worker="test-runner") == "failed"

    job.refresh_from_db()
    assert job.error == "The upload is gone or is not an image."
    assert not Upload.objects.filter(pk=created["id"]).exists()
