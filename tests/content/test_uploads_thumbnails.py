"""Thumbnails of image uploads, made by a real Celery worker after the upload commits."""

from __future__ import annotations

import io
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files.storage import default_storage
from PIL import Image
from rest_framework.test import APIClient

from content.models import Upload
from content.services import upload_create, upload_delete, upload_thumbnails_make
from tests.content.conftest import client_for
from tests.content.uploads import PDF, URL, image_bytes, post_file
from tests.factories import UserFactory

pytestmark = pytest.mark.usefixtures("upload_storage")

ORIENTATION = 0x0112
MAKE = 0x010F


def _photo(size: tuple[int, int], *, orientation: int = 1) -> bytes:
    """A JPEG as a camera writes it: EXIF with a maker and an orientation."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "Agora Kamera"
    output = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(output, format="JPEG", exif=exif.tobytes())
    return output.getvalue()


def _thumbnails_of(upload_id: str, timeout: float = 15) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        thumbnails = Upload.objects.get(pk=upload_id).thumbnails
        if thumbnails:
            return thumbnails
        time.sleep(0.05)
    raise AssertionError("no thumbnails within the time limit")


def _image_at(client: APIClient, url: str) -> Image.Image:
    response = client.get(urlsplit(url).path)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    return Image.open(io.BytesIO(b"".join(response.streaming_content)))


@pytest.mark.django_db(transaction=True)
def test_an_image_upload_gets_its_thumbnails_from_the_worker(celery_worker: Any) -> None:
    client = client_for(UserFactory())

    body = post_file(client, "Urlaub.jpg", _photo((2000, 1000), orientation=6)).json()
    _thumbnails_of(body["id"])

    thumbnails = client.get(f"{URL}/{body['id']}").json()["thumbnails"]
    assert sorted(thumbnails) == ["1024", "256"]
    small = _image_at(client, thumbnails["256"])
    large = _image_at(client, thumbnails["1024"])
    # Turned upright by the EXIF orientation (6: rotated 90°), longest side as asked.
    assert (small.format, small.size) == ("WEBP", (128, 256))
    assert large.size == (512, 1024)
    assert not small.getexif()
    assert "exif" not in small.info


@pytest.mark.django_db(transaction=True)
def test_a_document_upload_gets_no_thumbnails(celery_worker: Any) -> None:
    client = client_for(UserFactory())
    document = post_file(client, "a.pdf", PDF).json()
    image = post_file(client, "b.png", image_bytes("PNG", (300, 300))).json()

    _thumbnails_of(image["id"])

    assert Upload.objects.get(pk=document["id"]).thumbnails == {}


@pytest.mark.django_db
def test_thumbnails_are_never_bigger_than_the_image(author: Any) -> None:
    upload = upload_create(actor=author, name="klein.gif", data=image_bytes("GIF", (40, 30)))

    names = upload_thumbnails_make(upload_id=str(upload.pk))

    for name in names.values():
        with default_storage.open(name, "rb") as stored:
            assert Image.open(stored).size == (40, 30)


@pytest.mark.django_db
def test_transparency_survives_in_the_thumbnail(author: Any) -> None:
    data = image_bytes("PNG", (300, 200), mode="RGBA", color=(255, 0, 0, 0))
    upload = upload_create(actor=author, name="clear.png", data=data)

    names = upload_thumbnails_make(upload_id=str(upload.pk))

    with default_storage.open(names["256"], "rb") as stored:
        image = Image.open(stored)
        assert image.mode == "RGBA"
        assert image.getpixel((0, 0))[3] == 0


@pytest.mark.django_db
def test_making_them_again_replaces_them(author: Any, upload_storage: Any) -> None:
    upload = upload_create(actor=author, name="a.webp", data=image_bytes("WEBP", (300, 300)))

    first = upload_thumbnails_make(upload_id=str(upload.pk))
    second = upload_thumbnails_make(upload_id=str(upload.pk))

    assert first == second
    assert len(list((upload_storage / "uploads" / "thumbnails").iterdir())) == 2


@pytest.mark.django_db
def test_an_upload_deleted_before_its_thumbnails_gets_none(author: Any) -> None:
    upload = upload_create(actor=author, name="a.png", data=image_bytes())
    upload_delete(actor=author, upload_id=upload.pk)

    assert upload_thumbnails_make(upload_id=str(upload.pk)) == {}


@pytest.mark.django_db
def test_a_document_or_unknown_id_gets_none(author: Any) -> None:
    document = upload_create(actor=author, name="a.pdf", data=PDF)

    assert upload_thumbnails_make(upload_id=str(document.pk)) == {}
    assert upload_thumbnails_make(upload_id="not-an-id") == {}
