"""What `POST uploads` accepts: types recognised by their bytes, the size limit first, images
decoded with a pixel cap. The same checks serve chunked uploads (test_uploads_sessions)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.core.files.storage import default_storage
from django.test import override_settings
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from PIL import Image
from rest_framework.test import APIClient

from config.asgi import application
from config.core.errors import PayloadTooLarge, ValidationFailed
from content.models import Upload
from content.services import upload_create
from tests.content.uploads import (
    EXE,
    HTML,
    PDF,
    SVG,
    TEXT,
    URL,
    error_of,
    file,
    image_bytes,
    png_header,
    post_file,
    sha256,
    stored_files,
    zip_bytes,
)
from tests.factories import UserFactory, bearer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("upload_storage")]

ALLOWED = [
    ("photo.jpg", image_bytes("JPEG"), "image/jpeg", "image"),
    ("diagram.png", image_bytes("PNG"), "image/png", "image"),
    ("sticker.webp", image_bytes("WEBP"), "image/webp", "image"),
    ("loop.gif", image_bytes("GIF"), "image/gif", "image"),
    ("Rechnung März.pdf", PDF, "application/pdf", "document"),
    ("notes.txt", TEXT, "text/plain", "document"),
]


@pytest.mark.parametrize(
    ("name", "data", "content_type", "kind"), ALLOWED, ids=[a[2] for a in ALLOWED]
)
def test_each_allowed_type_is_stored_as_recognised(
    author_client: APIClient, name: str, data: bytes, content_type: str, kind: str
) -> None:
    response = post_file(author_client, name, data)

    assert response.status_code == 201
    body = response.json()
    assert (body["content_type"], body["kind"], body["size"]) == (content_type, kind, len(data))
    assert body["sha256"] == sha256(data)
    assert body["name"] == name


def test_the_stored_bytes_are_the_clients_bytes(author_client: APIClient) -> None:
    data = image_bytes("JPEG", (32, 16), quality=77)

    body = post_file(author_client, "photo.jpg", data).json()

    upload = Upload.objects.get(pk=body["id"])
    with default_storage.open(upload.file.name, "rb") as stored:
        assert stored.read() == data


def test_the_storage_name_is_the_id_not_the_clients_name(author_client: APIClient) -> None:
    body = post_file(author_client, "../../etc/passwd.png", image_bytes()).json()

    name = Upload.objects.get(pk=body["id"]).file.name
    assert name.startswith("uploads/")
    assert name.endswith(f"{body['id']}.png")
    assert body["name"] == "passwd.png"


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("report.pdf", image_bytes("PNG"), "image/png"),
        ("picture.png", PDF, "application/pdf"),
        ("image.jpg", TEXT, "text/plain"),
    ],
    ids=["png-named-pdf", "pdf-named-png", "text-named-jpg"],
)
def test_the_type_comes_from_the_bytes_never_the_name(
    author_client: APIClient, name: str, data: bytes, content_type: str
) -> None:
    response = author_client.post(
        URL, {"file": file(name, data, content_type="image/gif")}, format="multipart"
    )

    assert response.status_code == 201
    assert response.json()["content_type"] == content_type


REFUSED = [
    pytest.param(EXE, id="exe"),
    pytest.param(zip_bytes(), id="zip"),
    pytest.param(HTML, id="html"),
    pytest.param(b"  \n<html><head><title>x</title></head></html>", id="html-after-space"),
    pytest.param(b"<script>alert(1)</script>", id="script"),
    pytest.param(SVG, id="svg"),
    pytest.param("Grüße".encode("latin-1"), id="latin-1"),
    pytest.param(b"text with a NUL\x00 byte", id="nul"),
    pytest.param(b"text with an escape \x1b[31m", id="escape"),
    pytest.param(b"BM\x1e\x00\x00\x00", id="bmp"),
    pytest.param(b"\x00\x00\x01\x00", id="ico"),
]


@pytest.mark.parametrize("data", REFUSED)
def test_anything_else_named_like_an_image_is_a_415(author_client: APIClient, data: bytes) -> None:
    response = author_client.post(
        URL, {"file": file("innocent.png", data, content_type="image/png")}, format="multipart"
    )

    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"
    assert not Upload.objects.exists()


def test_text_with_a_byte_order_mark_and_form_feeds_is_plain_text(
    author_client: APIClient,
) -> None:
    data = b"\xef\xbb\xbfPage one\x0cPage two\r\n"

    response = post_file(author_client, "pages.txt", data)

    assert response.status_code == 201
    assert response.json()["content_type"] == "text/plain"


def test_text_that_mentions_html_later_on_is_plain_text(author_client: APIClient) -> None:
    response = post_file(author_client, "howto.txt", b"Write <html> to start a page.\n")

    assert response.json()["content_type"] == "text/plain"


@override_settings(UPLOAD_MAX_BYTES=64)
def test_a_file_of_exactly_the_limit_is_accepted(author_client: APIClient) -> None:
    response = post_file(author_client, "exact.txt", b"x" * 64)

    assert response.status_code == 201
    assert response.json()["size"] == 64


@override_settings(UPLOAD_MAX_BYTES=64)
def test_one_byte_over_the_limit_is_a_413(author_client: APIClient) -> None:
    response = post_file(author_client, "over.txt", b"x" * 65)

    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "payload_too_large"
    assert error["details"] == {"limit_bytes": 64}
    assert not Upload.objects.exists()


@override_settings(UPLOAD_MAX_BYTES=64)
def test_the_size_limit_is_checked_before_the_type(author_client: APIClient) -> None:
    response = post_file(author_client, "big.png", EXE + bytes(64))

    assert response.status_code == 413


def test_the_default_limit_is_ten_mebibytes(settings: Any) -> None:
    assert settings.UPLOAD_MAX_BYTES == 10 * 2**20


def test_an_empty_file_is_a_400_on_file(author_client: APIClient) -> None:
    response = post_file(author_client, "empty.txt", b"")

    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"file"}


@pytest.mark.parametrize(
    "data",
    [png_header(40_000_001, 1), png_header(8000, 5001), png_header(100_000, 100_000)],
    ids=["one-pixel-over", "wide", "bomb"],
)
def test_an_image_over_40_megapixels_is_a_400_on_file(
    author_client: APIClient, data: bytes
) -> None:
    response = post_file(author_client, "huge.png", data)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert error["details"] == {"file": ["The image is larger than 40 megapixels."]}


def test_an_image_of_40_megapixels_passes_the_pixel_cap(author_client: APIClient) -> None:
    # A header without pixel data: refused as truncated, not as too big.
    response = post_file(author_client, "edge.png", png_header(8000, 5000))

    assert error_of(response)["details"] == {
        "file": ["The image is truncated or cannot be decoded."]
    }


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "WEBP", "GIF"])
def test_a_truncated_image_is_a_400_on_file(author_client: APIClient, image_format: str) -> None:
    whole = _noisy_image(image_format)

    response = post_file(author_client, "cut.img", whole[: len(whole) // 2])

    assert response.status_code == 400
    assert error_of(response)["details"] == {
        "file": ["The image is truncated or cannot be decoded."]
    }
    assert not Upload.objects.exists()


def test_an_image_signature_on_garbage_is_a_400_on_file(author_client: APIClient) -> None:
    response = post_file(author_client, "fake.png", b"\x89PNG\r\n\x1a\n" + os.urandom(200))

    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"file"}


def test_a_refused_file_leaves_nothing_stored(
    author_client: APIClient, upload_storage: Path
) -> None:
    post_file(author_client, "cut.png", _noisy_image("PNG")[:300])
    post_file(author_client, "a.exe", EXE)

    assert stored_files(upload_storage) == []


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("C:\\Users\\zoë\\Desktop\\Straße.txt", "Straße.txt"),
        ('say "hi".txt', 'say "hi".txt'),
        ("tab\there\u202eevil.txt", "tab hereevil.txt"),
        ("n\u0303ame.txt", "ñame.txt"),
    ],
)
def test_the_name_is_cleaned_for_content_disposition(author: Any, given: str, kept: str) -> None:
    upload = upload_create(actor=author, name=given, data=TEXT)

    assert upload.name == kept


def test_a_long_name_is_shortened_keeping_its_extension(author: Any) -> None:
    upload = upload_create(actor=author, name="ä" * 300 + ".txt", data=TEXT)

    assert len(upload.name) == 255
    assert upload.name.endswith("ä.txt")


def test_a_name_with_nothing_printable_is_a_400_on_name(author: Any) -> None:
    with pytest.raises(ValidationFailed) as refused:
        upload_create(actor=author, name="\u200b\u0000", data=TEXT)

    assert set(refused.value.details) == {"name"}


def test_the_service_takes_a_stream_that_cannot_seek(author: Any) -> None:
    read, write = os.pipe()
    os.write(write, TEXT)
    os.close(write)

    with os.fdopen(read, "rb") as stream:
        upload = upload_create(actor=author, name="piped.txt", data=stream)

    assert (upload.size, upload.sha256) == (len(TEXT), sha256(TEXT))


@override_settings(UPLOAD_MAX_BYTES=64)
def test_a_stream_that_cannot_seek_is_read_only_one_byte_past_the_limit(author: Any) -> None:
    read, write = os.pipe()
    os.write(write, b"x" * 1000)
    os.close(write)

    with os.fdopen(read, "rb") as stream, pytest.raises(PayloadTooLarge):
        upload_create(actor=author, name="piped.txt", data=stream)


# --- the whole stack: the ASGI body guard in front of Django's multipart parser ----------------


@override_settings(UPLOAD_MAX_BYTES=4096, DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
@pytest.mark.django_db(transaction=True)
async def test_through_asgi_a_file_over_the_json_body_limit_but_within_the_upload_limit_is_201(
    upload_storage: Path,
) -> None:
    status, body = await _asgi_upload(b"y" * 4096)

    assert status == 201
    assert b'"size": 4096' in body or b'"size":4096' in body


@override_settings(UPLOAD_MAX_BYTES=4096, DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
@pytest.mark.django_db(transaction=True)
async def test_through_asgi_a_file_one_byte_over_the_limit_is_a_413_envelope(
    upload_storage: Path,
) -> None:
    status, body = await _asgi_upload(b"y" * 4097)

    assert status == 413
    assert b'"payload_too_large"' in body


@override_settings(UPLOAD_MAX_BYTES=4096, DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
@pytest.mark.django_db(transaction=True)
async def test_through_asgi_a_body_far_over_the_limit_is_refused_before_it_is_read(
    upload_storage: Path,
) -> None:
    status, body = await _asgi_upload(EXE + bytes(200_000))

    assert status == 413
    assert b'"limit_bytes": 4096' in body or b'"limit_bytes":4096' in body
    assert stored_files(upload_storage) == []


async def _asgi_upload(data: bytes) -> tuple[int, bytes]:
    member = await sync_to_async(UserFactory)()
    authorization = await sync_to_async(bearer)(member)
    body = encode_multipart(BOUNDARY, {"file": file("data.txt", data)})
    communicator = HttpCommunicator(
        application,
        "POST",
        URL,
        body=body,
        headers=[
            (b"content-type", MULTIPART_CONTENT.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", authorization.encode()),
            (b"host", b"localhost"),
        ],
    )
    response = await communicator.get_response(timeout=15)
    return response["status"], response["body"]


def _noisy_image(image_format: str) -> bytes:
    output = io.BytesIO()
    Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3)).save(output, format=image_format)
    return output.getvalue()
