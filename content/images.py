"""Images through Pillow, safely: the format allow-listed per file, a pixel cap, full decoding.

Pillow's own decompression-bomb check is tied to our cap: it warns above
`Image.MAX_IMAGE_PIXELS` and raises above twice that. The warning is silenced (the cap is
checked right after the header is read, before any pixel is decoded), and the error is caught
and refused like any other image over the cap, so neither escapes as a 500.
"""

from __future__ import annotations

import io
import warnings
from typing import BinaryIO

from PIL import Image, ImageOps

IMAGE_MAX_PIXELS = 40_000_000
THUMBNAIL_FORMAT = "WEBP"
THUMBNAIL_CONTENT_TYPE = "image/webp"
THUMBNAIL_EXTENSION = ".webp"
THUMBNAIL_QUALITY = 80

Image.MAX_IMAGE_PIXELS = IMAGE_MAX_PIXELS
warnings.simplefilter("ignore", Image.DecompressionBombWarning)


class ImageRefused(Exception):
    """Why an image cannot be taken; `message` is for the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


TOO_MANY_PIXELS = f"The image is larger than {IMAGE_MAX_PIXELS // 1_000_000} megapixels."
UNDECODABLE = "The image is truncated or cannot be decoded."


def image_check(source: BinaryIO, *, pillow_format: str) -> tuple[int, int]:
    """Decode the whole image (its first frame) as `pillow_format` only; its (width, height).

    Raises ImageRefused when it has more than IMAGE_MAX_PIXELS pixels, is truncated, or does
    not decode.
    """
    source.seek(0)
    try:
        with Image.open(source, formats=[pillow_format]) as image:
            _pixels_check(image)
            image.load()
            return image.size
    except Image.DecompressionBombError:
        raise ImageRefused(TOO_MANY_PIXELS) from None
    except ImageRefused:
        raise
    except Exception:  # noqa: BLE001 - Pillow's decoders raise many kinds on bad input
        raise ImageRefused(UNDECODABLE) from None


def thumbnails_render(
    source: BinaryIO, *, pillow_format: str, sizes: tuple[int, ...]
) -> dict[int, bytes]:
    """WebP thumbnails whose longest side is at most each of `sizes` (never enlarged).

    The image is turned upright by its EXIF orientation first; the thumbnails are re-encoded
    pixels only, with no EXIF, XMP or other metadata of the original.
    """
    source.seek(0)
    with Image.open(source, formats=[pillow_format]) as opened:
        _pixels_check(opened)
        image = ImageOps.exif_transpose(opened)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    image = image.convert("RGBA" if has_alpha else "RGB")
    image.info.clear()
    rendered = {}
    for size in sizes:
        thumbnail = image.copy()
        thumbnail.thumbnail((size, size), Image.Resampling.LANCZOS)
        output = io.BytesIO()
        thumbnail.save(output, format=THUMBNAIL_FORMAT, quality=THUMBNAIL_QUALITY)
        rendered[size] = output.getvalue()
    return rendered


def _pixels_check(image: Image.Image) -> None:
    if image.width * image.height > IMAGE_MAX_PIXELS:
        raise ImageRefused(TOO_MANY_PIXELS)
