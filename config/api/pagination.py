"""List pagination per API.md: offset pages by default, keyset (cursor) pages on request.

`ApiPagination` (the default pagination class) picks the style per request:

- offset (default, or `?pagination=offset`): `limit` (default 20, max 50, clamped) and
  `offset` → `{"count", "next", "previous", "results"}`. Zero, negative or non-numeric values
  are a 400, where DRF would silently use the default. A view may supply the count itself
  with `get_list_count(queryset) -> int` (a cached count of a big unfiltered list, say), or
  ask for the count to come with the page (`count_with_page(request) -> True`): one query,
  `COUNT(*) OVER ()` beside the page's rows, where a separate COUNT would repeat an expensive
  search (the ranked full-text search with a tag: measured, half the database time).
- cursor (`?cursor=` — empty for the first page — or `?pagination=cursor`) →
  `{"next", "previous", "results"}`, no count. A cursor holds the sort values of the row at
  the page boundary (the primary key last, see config.api.ordering), signed; the next page is the
  rows past that tuple (`WHERE`, not `OFFSET`), so it costs the same on page 1000 as on page
  1, and rows inserted or deleted meanwhile neither repeat nor skip rows.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Q, QuerySet, Window
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination, LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from config.api.ordering import SortTerm, ordering_signature, sort_terms

OFFSET = "offset"
CURSOR = "cursor"
PAGINATION_QUERY_PARAM = "pagination"
_CURSOR_SALT = "agora.pagination.cursor"
_ALIAS = "_cursor_{}"


class OffsetPagination(LimitOffsetPagination):
    default_limit = 20
    max_limit = 50

    def paginate_queryset(
        self, queryset: Any, request: Request, view: Any = None
    ) -> list[Any] | None:
        self.view = view
        wants = getattr(view, "count_with_page", None)
        if isinstance(queryset, QuerySet) and wants is not None and wants(request):
            return self._page_with_count(queryset, request)
        return super().paginate_queryset(queryset, request, view)

    def _page_with_count(self, queryset: QuerySet[Any], request: Request) -> list[Any]:
        """The page and the count in one query; a page past the end counts on its own."""
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        counted = queryset.annotate(_page_total=Window(Count("*")))
        rows = list(counted[self.offset : self.offset + self.limit])
        if rows:
            self.count = rows[0]._page_total
        else:
            self.count = queryset.count() if self.offset else 0
        return rows

    def get_count(self, queryset: Any) -> int:
        """The view's own count when it has one (`get_list_count`), else a COUNT query."""
        counter = getattr(getattr(self, "view", None), "get_list_count", None)
        if counter is not None:
            return int(counter(queryset))
        return super().get_count(queryset)

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


@dataclass(frozen=True)
class Cursor:
    """A page boundary: the sort values of one row, and which way the page lies from it.

    `inclusive` pages start at the boundary row itself; they are only handed out from an
    empty page, whose neighbour must contain the row the client came from.
    """

    values: tuple[Any, ...]
    backwards: bool
    inclusive: bool = False


@dataclass(frozen=True)
class _Key:
    """How the paginator compares and reads one sort term."""

    term: SortTerm
    lookup: str  # a field path, annotation or alias to filter on
    attribute: str  # where a fetched row holds the value


class KeysetPagination(OffsetPagination):
    """Cursor pages over any order config.api.ordering can express (see the module docstring)."""

    cursor_query_param = CURSOR

    def paginate_queryset(
        self, queryset: Any, request: Request, view: Any = None
    ) -> list[Any] | None:
        if not isinstance(queryset, QuerySet):
            raise ImproperlyConfigured("cursor pagination needs a QuerySet")
        self.request = request
        self.view = view
        self.limit = self.get_limit(request)
        if request.query_params.get(self.offset_query_param) is not None:
            raise ValidationError(
                {self.offset_query_param: ["Offsets do not apply to cursor pagination."]}
            )
        terms = sort_terms(queryset)
        self.signature = ordering_signature(terms)
        queryset, self.keys = _keys(queryset, terms)
        cursor = self._decode(request.query_params.get(self.cursor_query_param) or "")
        self.next_cursor: Cursor | None = None
        self.previous_cursor: Cursor | None = None
        if cursor is not None and cursor.backwards:
            return self._page_before(queryset, cursor)
        return self._page_after(queryset, cursor)

    def _page_after(self, queryset: QuerySet[Any], cursor: Cursor | None) -> list[Any]:
        ordered = queryset.order_by(*(key.term.order_by() for key in self.keys))
        if cursor is not None:
            ordered = self._seek(ordered, cursor)
        rows = list(ordered[: self.limit + 1])
        more = len(rows) > self.limit
        rows = rows[: self.limit]
        if more:
            self.next_cursor = Cursor(self._values(rows[-1]), backwards=False)
        if cursor is not None:
            self.previous_cursor = (
                Cursor(self._values(rows[0]), backwards=True)
                if rows
                else Cursor(cursor.values, backwards=True, inclusive=True)
            )
        return rows

    def _page_before(self, queryset: QuerySet[Any], cursor: Cursor) -> list[Any]:
        ordered = queryset.order_by(*(key.term.order_by(reverse=True) for key in self.keys))
        rows = list(self._seek(ordered, cursor)[: self.limit + 1])
        more = len(rows) > self.limit
        rows = rows[: self.limit][::-1]
        if more:
            self.previous_cursor = Cursor(self._values(rows[0]), backwards=True)
        self.next_cursor = (
            Cursor(self._values(rows[-1]), backwards=False)
            if rows
            else Cursor(cursor.values, backwards=False, inclusive=True)
        )
        return rows

    def _seek(self, queryset: QuerySet[Any], cursor: Cursor) -> QuerySet[Any]:
        """Rows past `cursor` in its direction: a WHERE over the sort tuple.

        `(a, b, id) > (x, y, z)` in the order's own sense is `a past x OR (a = x AND (b past y
        OR (b = y AND id past z)))`, with NULL handled per term. The first term is also bound
        on its own (`a at or past x`), which lets the database range-scan an index on it.
        """
        condition: Q | None = Q() if cursor.inclusive else None
        for key, value in reversed(list(zip(self.keys, cursor.values, strict=True))):
            tail = _and(_equal(key, value), condition)
            condition = _or(_past(key, value, backwards=cursor.backwards), tail)
        if condition is None:
            return queryset.none()
        first_key, first_value = self.keys[0], cursor.values[0]
        first_past = _past(first_key, first_value, cursor.backwards)
        # From a NULL boundary with the non-NULL rows still ahead, the bound would be all rows.
        if len(self.keys) > 1 and (first_value is not None or first_past is None):
            condition = _or(_equal(first_key, first_value), first_past) & condition
        return queryset.filter(condition)

    def _values(self, row: Any) -> tuple[Any, ...]:
        if isinstance(row, dict):
            return tuple(row[key.attribute] for key in self.keys)
        return tuple(getattr(row, key.attribute) for key in self.keys)

    def _encode(self, cursor: Cursor) -> str:
        payload = {
            "o": self.signature,
            "v": [_encode_value(value) for value in cursor.values],
            "b": int(cursor.backwards),
            "i": int(cursor.inclusive),
        }
        return signing.dumps(payload, salt=_CURSOR_SALT, compress=True)

    def _decode(self, raw: str) -> Cursor | None:
        if not raw:
            return None
        invalid = ValidationError({self.cursor_query_param: ["Invalid cursor."]})
        try:
            payload = signing.loads(raw, salt=_CURSOR_SALT)
        except signing.BadSignature:
            raise invalid from None
        if not isinstance(payload, dict) or not isinstance(payload.get("v"), list):
            raise invalid
        if payload.get("o") != self.signature or len(payload["v"]) != len(self.keys):
            raise ValidationError(
                {
                    self.cursor_query_param: [
                        "This cursor belongs to another ordering; start again from the first page."
                    ]
                }
            )
        try:
            values = tuple(_decode_value(value) for value in payload["v"])
        except (TypeError, ValueError, KeyError):
            raise invalid from None
        return Cursor(values, backwards=bool(payload.get("b")), inclusive=bool(payload.get("i")))

    def _link(self, cursor: Cursor | None) -> str | None:
        if cursor is None:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), PAGINATION_QUERY_PARAM)
        return replace_query_param(url, self.cursor_query_param, self._encode(cursor))

    def get_next_link(self) -> str | None:
        return self._link(self.next_cursor)

    def get_previous_link(self) -> str | None:
        return self._link(self.previous_cursor)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )


def _keys(queryset: QuerySet[Any], terms: Sequence[SortTerm]) -> tuple[QuerySet[Any], list[_Key]]:
    """The keys of `terms`, annotating the queryset with what a fetched row would not hold."""
    meta = queryset.model._meta
    local = {field.attname for field in meta.concrete_fields}
    annotations = queryset.query.annotation_select
    aliases: dict[str, Any] = {}
    keys: list[_Key] = []
    for index, term in enumerate(terms):
        name = term.name
        if name is not None and (name in local or name in annotations):
            keys.append(_Key(term, lookup=name, attribute=name))
            continue
        alias = _ALIAS.format(index)
        aliases[alias] = term.expression
        keys.append(_Key(term, lookup=name or alias, attribute=alias))
    return (queryset.annotate(**aliases) if aliases else queryset), keys


def _or(left: Q | None, right: Q | None) -> Q | None:
    if left is None:
        return right
    return left if right is None else left | right


def _and(left: Q, right: Q | None) -> Q | None:
    return None if right is None else left & right


def _equal(key: _Key, value: Any) -> Q:
    if value is None:
        return Q(**{f"{key.lookup}__isnull": True})
    return Q(**{key.lookup: value})


def _equal_all(keys: Sequence[_Key], cursor: Cursor) -> Q:
    condition = Q()
    for key, value in zip(keys, cursor.values, strict=True):
        condition &= _equal(key, value)
    return condition


def _past(key: _Key, value: Any, backwards: bool) -> Q | None:
    """Rows strictly past `value` on this term alone, moving forwards or backwards; None if
    no value can be (the boundary is NULL and NULLs are at that end)."""
    nulls = key.term.nulls
    far_end = "first" if backwards else "last"
    isnull = f"{key.lookup}__isnull"
    if value is None:
        return Q(**{isnull: False}) if nulls is not None and nulls != far_end else None
    greater = key.term.descending == backwards
    condition = Q(**{f"{key.lookup}__{'gt' if greater else 'lt'}": value})
    if nulls == far_end:
        condition |= Q(**{isnull: True})
    return condition


# Typed so that a value reads back exactly as it was: a datetime keeps its microseconds and
# offset, a UUID stays a UUID, 10 does not become 10.0.
_ENCODERS: tuple[tuple[type, str, Any], ...] = (
    (bool, "b", bool),
    (int, "i", int),
    (float, "f", repr),
    (decimal.Decimal, "n", str),
    (str, "s", str),
    (uuid.UUID, "u", str),
    (datetime.datetime, "dt", datetime.datetime.isoformat),
    (datetime.date, "d", datetime.date.isoformat),
    (datetime.time, "t", datetime.time.isoformat),
    (datetime.timedelta, "td", lambda value: [value.days, value.seconds, value.microseconds]),
)
_DECODERS: dict[str, Any] = {
    "b": bool,
    "i": int,
    "f": float,
    "n": decimal.Decimal,
    "s": str,
    "u": uuid.UUID,
    "dt": datetime.datetime.fromisoformat,
    "d": datetime.date.fromisoformat,
    "t": datetime.time.fromisoformat,
    "td": lambda parts: datetime.timedelta(days=parts[0], seconds=parts[1], microseconds=parts[2]),
}


def _encode_value(value: Any) -> list[Any] | None:
    if value is None:
        return None
    for kind, tag, encode in _ENCODERS:
        if isinstance(value, kind):
            return [tag, encode(value)]
    raise ImproperlyConfigured(f"cannot put a {type(value).__name__} in a pagination cursor")


def _decode_value(encoded: Any) -> Any:
    if encoded is None:
        return None
    tag, raw = encoded
    return _DECODERS[tag](raw)


class ApiPagination(BasePagination):
    """Offset or cursor pages on the same endpoint, chosen per request (module docstring)."""

    mode_query_param = PAGINATION_QUERY_PARAM
    default_limit = OffsetPagination.default_limit
    max_limit = OffsetPagination.max_limit

    def __init__(self) -> None:
        self.style: OffsetPagination = OffsetPagination()

    def paginate_queryset(
        self, queryset: Any, request: Request, view: Any = None
    ) -> list[Any] | None:
        mode = request.query_params.get(self.mode_query_param)
        has_cursor = CURSOR in request.query_params
        if mode not in (None, OFFSET, CURSOR):
            raise ValidationError({self.mode_query_param: ["Must be `offset` or `cursor`."]})
        if mode == OFFSET and has_cursor:
            raise ValidationError(
                {CURSOR: ["A cursor needs cursor pagination; leave out `pagination=offset`."]}
            )
        if mode == CURSOR or has_cursor:
            self.style = KeysetPagination()
        elif isinstance(queryset, QuerySet):
            # The same order as cursor pages, tie-breaker included, so offset pages are
            # deterministic too and both styles list an endpoint in the same order.
            queryset = queryset.order_by(*(term.order_by() for term in sort_terms(queryset)))
        return self.style.paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Response:
        return self.style.get_paginated_response(data)

    def get_results(self, data: dict[str, Any]) -> Any:
        return data["results"]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "example": 123,
                    "description": "Total number of results; offset pagination only.",
                },
                "next": {
                    **link,
                    "description": "The next page, or null on the last one.",
                    "example": "https://api.example.org/api/v1/posts?limit=20&offset=40",
                },
                "previous": {
                    **link,
                    "description": "The previous page, or null on the first.",
                    "example": "https://api.example.org/api/v1/posts?limit=20&offset=0",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        def parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
            return {
                "name": name,
                "required": False,
                "in": "query",
                "description": description,
                "schema": schema,
            }

        return [
            parameter(
                OffsetPagination.limit_query_param,
                f"Results per page, {self.default_limit} by default; more than "
                f"{self.max_limit} is cut to {self.max_limit}. Zero, negative or not a "
                "number is a 400.",
                {"type": "integer", "minimum": 1, "default": self.default_limit},
            ),
            parameter(
                OffsetPagination.offset_query_param,
                "Offset pagination: how many results to skip (0 or more).",
                {"type": "integer", "minimum": 0, "default": 0},
            ),
            parameter(
                CURSOR,
                "Cursor pagination: the opaque cursor of a `next` or `previous` link; empty for "
                "the first page. Pages hold steady while rows are added. The response has no "
                "`count`. A cursor that was altered or belongs to another `ordering` is a 400.",
                {"type": "string"},
            ),
            parameter(
                self.mode_query_param,
                "`cursor` starts cursor pagination (same as an empty `cursor`); `offset` is "
                "the default.",
                {"type": "string", "enum": [OFFSET, CURSOR]},
            ),
        ]
