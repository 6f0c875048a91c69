"""Content negotiation: an `Accept` nothing matches gets the default representation, not a 406.

The API answers JSON (and a download its own file type), and every refusal is one of the
contract's error codes; DRF's `not_acceptable` is none of them. RFC 9110 (12.5.1) lets a server
disregard an `Accept` it cannot satisfy, and that is what a client of a JSON API expects: a
`GET posts/export?file_format=csv` sent with `Accept: text/csv` gets its CSV, not a 406 because
no *renderer* is called `text/csv` (the view streams the file itself).
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class FallbackContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: Any = None
    ) -> tuple[BaseRenderer, str]:
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type
