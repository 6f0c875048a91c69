"""Tiny real files made in the test, and helpers for the upload tests.

Images are drawn with Pillow; the PDF is a minimal literal; the refused types are the first
bytes real files of those types start with.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

URL = "/api/v1/uploads"

PDF = (
    b"%PDF-1.4\n"
    b"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
TEXT = "Grüße aus Köln, 李雷 🚀\nSecond line\twith a tab.\n".encode()
# A Windows executable's DOS header (`MZ`, then NUL bytes).
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8" + bytes(47)
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>\n'


def image_bytes(
    image_format: str = "PNG",
    size: tuple[int, int] = (4, 3),
    *,
    mode: str = "RGB",
    color: Any = (200, 30, 60),
    **save: Any,
) -> bytes:
    output = io.BytesIO()
    Image.new(mode, size, color).save(output, format=image_format, **save)
    return output.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` by `height` pixels: signature and IHDR, no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b"")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def zip_bytes() -> bytes:
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return output.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file(name: str, data: bytes, content_type: str = "application/octet-stream") -> Any:
    """A multipart file part; its declared content type is the client's and is ignored."""
    return SimpleUploadedFile(name, data, content_type=content_type)


def post_file(client: APIClient, name: str, data: bytes, **extra: Any) -> Any:
    return client.post(URL, {"file": file(name, data)}, format="multipart", **extra)


def error_of(response: Any) -> dict[str, Any]:
    return response.json()["error"]


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())
