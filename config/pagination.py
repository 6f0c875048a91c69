"""Offset pagination per API.md: `limit` (default 20, max 50, clamped) and `offset`.

Zero, negative or non-numeric values are a 400, where DRF would silently use the default.
"""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request


class OffsetPagination(LimitOffsetPagination):
    default_limit = 20
    max_limit = 50

    def get_limit(self, request: Request) -> int:
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        value = _integer(raw, self.limit_query_param)
        if value <= 0:
            raise ValidationError({self.limit_query_param: ["Must be a positive integer."]})
        return min(value, self.max_limit)

    def get_offset(self, request: Request) -> int:
        raw = request.query_params.get(self.offset_query_param)
        if raw is None:
            return 0
        value = _integer(raw, self.offset_query_param)
        if value < 0:
            raise ValidationError({self.offset_query_param: ["Must be zero or more."]})
        return value


def _integer(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValidationError({name: ["Must be an integer."]}) from None
