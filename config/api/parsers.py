"""DRF's parsers, made strict about what the contract accepts.

The pinned DRF (3.18) reads JSON and form bodies through `request.body`, so Django's
`DATA_UPLOAD_MAX_MEMORY_SIZE` already refuses an oversized one (RequestDataTooBig → 413); the
ASGI guard (config.http.body_limit) refuses it even earlier. What is left to add here:

- a `charset` must name a text encoding: Python also knows byte codecs (`bz2_codec`,
  `zlib_codec`, `base64_codec`) that Django accepts and decoding then fails in odd ways (a 500);
  such a body is a 415;
- every endpoint takes a JSON object, so a valid JSON body of another shape (`[]`, `"a"`, `42`,
  `null`) is `malformed_request`, not a field-level `validation_error`.
"""

from __future__ import annotations

import codecs
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError, UnsupportedMediaType


def text_encoding_check(parser_context: dict[str, Any] | None, media_type: str | None) -> None:
    """Refuse (415) a body whose declared charset is not a text encoding Python knows."""
    encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
    try:
        is_text = codecs.lookup(encoding)._is_text_encoding  # type: ignore[attr-defined]
    except LookupError:
        is_text = False
    if not is_text:
        raise UnsupportedMediaType(
            media_type or "",
            detail=f"The charset {encoding!r} is not supported; send UTF-8.",
        )


class JSONParser(parsers.JSONParser):
    """A JSON object, decoded with a text charset (UTF-8 by default)."""

    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        text_encoding_check(parser_context, media_type)
        data = super().parse(stream, media_type, parser_context)
        if not isinstance(data, dict):
            raise ParseError("The body must be a JSON object.")
        return data


class FormParser(parsers.FormParser):
    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        text_encoding_check(parser_context, media_type)
        return super().parse(stream, media_type, parser_context)


class MultiPartParser(parsers.MultiPartParser):
    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        text_encoding_check(parser_context, media_type)
        return super().parse(stream, media_type, parser_context)
