"""What an uploaded file is, from its bytes alone: never its name, extension or declared type.

Images and PDF by their magic bytes. Plain text is what is left when every byte is valid UTF-8
with no NUL or other binary control character, and it does not open like HTML or XML: a
browser (or an old proxy) that sniffs would render such a file as a page, so markup is refused
like any other type this server does not take.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from typing import BinaryIO

JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
GIF = "image/gif"
PDF = "application/pdf"
TEXT = "text/plain"

IMAGE_TYPES = frozenset({JPEG, PNG, WEBP, GIF})
DOCUMENT_TYPES = frozenset({PDF, TEXT})
ALLOWED_TYPES = IMAGE_TYPES | DOCUMENT_TYPES
ALLOWED_TYPE_CHOICES = tuple(sorted(ALLOWED_TYPES))
# Pillow's name of each image format (for `Image.open(formats=…)`).
PILLOW_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP", GIF: "GIF"}
EXTENSIONS = {JPEG: ".jpg", PNG: ".png", WEBP: ".webp", GIF: ".gif", PDF: ".pdf", TEXT: ".txt"}

HEAD_BYTES = 512
_READ_CHUNK = 64 * 1024
# Control characters that plain text does not hold: C0 but tab, line feed, form feed and
# carriage return; DEL; C1.
_BINARY_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
# The WHATWG MIME Sniffing Standard's "HTML" patterns (section 7.1), plus XML (and so SVG):
# after leading whitespace, one of these tags followed by a space or `>`.
_MARKUP = re.compile(
    rb"[\t\n\x0c\r ]*(?:<\?xml|<svg|<!--|<!doctype html|<(?:html|head|script|iframe|h1|div"
    rb"|font|table|a|style|title|b|body|br|p)[ >])",
    re.IGNORECASE,
)


def sniff_binary(head: bytes) -> str | None:
    """The image or PDF type whose signature `head` starts with."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return None


def is_plain_text(chunks: Iterable[bytes]) -> bool:
    """Whether the bytes are valid UTF-8 without binary control characters (a BOM is fine)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for chunk in chunks:
            if _BINARY_CONTROL.search(decoder.decode(chunk)):
                return False
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def sniff(source: BinaryIO) -> str | None:
    """The allowed content type of the whole stream (read from its start), or None."""
    source.seek(0)
    head = source.read(HEAD_BYTES)
    found = sniff_binary(head)
    if found is not None:
        return found
    if _MARKUP.match(head.removeprefix(codecs.BOM_UTF8)):
        return None
    source.seek(0)
    return TEXT if is_plain_text(iter(lambda: source.read(_READ_CHUNK), b"")) else None


def declared_type_clean(value: object) -> str | None:
    """A client's declared media type as one of ours (`Text/Plain; charset=utf-8` is
    `text/plain`), or None when it is none of them."""
    if not isinstance(value, str):
        return None
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type if media_type in ALLOWED_TYPES else None
