"""The API's JSON renderer: DRF's JSONRenderer's output, made by orjson.

DRF renders with `json.dumps` and its own encoder, in pure Python for every value; orjson does
the same walk in compiled code (measured: tests/perf/request_cpu.py, docs/operations.md). The
bytes are DRF's for everything the API answers with, which the tests compare:

- compact separators, Unicode as UTF-8 rather than `\\uXXXX` escapes (`UNICODE_JSON`);
- U+2028 and U+2029 escaped, as DRF does, so the JSON is also valid JavaScript (they end a line
  there) and can be embedded in a page's script;
- datetimes as DRF's encoder writes them (ISO 8601, `Z` for UTC), UUIDs as text; what orjson
  does not know (lazy translations, Decimal, timedelta, querysets, bytes …) goes through DRF's
  own encoder.

Anything orjson refuses (an integer beyond 64 bits) and a pretty-printed answer (an `indent`
in the Accept header or the renderer context) are rendered by DRF itself. One difference is
deliberate: a float that is not a number renders as `null` where DRF's strict mode would fail
the request with a 500.
"""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS
_LINE_SEPARATOR = "\u2028".encode()
_PARAGRAPH_SEPARATOR = "\u2029".encode()


def _default(value: Any) -> Any:
    return JSONEncoder().default(value)


def json_bytes(data: Any) -> bytes:
    """`data` as DRF's JSONRenderer writes it (compact), made by orjson.

    Raises orjson.JSONEncodeError (a TypeError) for what orjson cannot write.
    """
    body = orjson.dumps(data, default=_default, option=_OPTIONS)
    if _LINE_SEPARATOR in body:
        body = body.replace(_LINE_SEPARATOR, b"\\u2028")
    if _PARAGRAPH_SEPARATOR in body:
        body = body.replace(_PARAGRAPH_SEPARATOR, b"\\u2029")
    return body


class OrjsonRenderer(JSONRenderer):
    """DRF's JSONRenderer, faster (see the module doc)."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            return json_bytes(data)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
