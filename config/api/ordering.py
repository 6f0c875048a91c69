"""Sorting of lists: `?ordering=-created_at,title`, and the one definition of a list's order.

Both `StrictOrderingFilter` and the cursor paginator (config.api.pagination) read a queryset's
order through `sort_terms`, so they agree on three things that make keyset pages correct:

- every order ends with the primary key, so no two rows tie;
- a column that can be NULL sorts its NULLs last in both directions, spelled out as
  `NULLS LAST` (PostgreSQL puts NULLs last ascending but first descending, SQLite the reverse);
- a column that cannot be NULL gets no NULLS clause, so the plain indexes keep serving it.

A view opts in with `filter_backends = [..., StrictOrderingFilter]` and declares

    ordering_fields = {"created_at": "created_at", "author": "author__username",
                       "title_ci": Lower("title")}   # or a list of model field names
    ordering = ["-created_at"]                        # the default, in public names
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from django.db.models import Count, F, OrderBy, QuerySet
from django.db.models.options import Options
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request

Nulls = Literal["first", "last"]
ORDERING_PARAM = "ordering"


@dataclass(frozen=True)
class SortTerm:
    """One key of a list's order: an F() or another expression, its direction, where NULLs go.

    `nulls` is None only for values that cannot be NULL.
    """

    expression: Any
    descending: bool
    nulls: Nulls | None

    @property
    def name(self) -> str | None:
        """The field path or annotation name, when the term is a plain F()."""
        return self.expression.name if type(self.expression) is F else None

    def order_by(self, *, reverse: bool = False) -> OrderBy:
        nulls = self.nulls
        if reverse and nulls is not None:
            nulls = "first" if nulls == "last" else "last"
        return OrderBy(
            self.expression,
            descending=self.descending != reverse,
            nulls_first=True if nulls == "first" else None,
            nulls_last=True if nulls == "last" else None,
        )

    @property
    def signature(self) -> str:
        direction = "desc" if self.descending else "asc"
        return f"{self.name or repr(self.expression)} {direction} nulls {self.nulls or '-'}"


def sort_terms(queryset: QuerySet[Any]) -> list[SortTerm]:
    """The queryset's order (its order_by, else the model's Meta.ordering) as terms.

    Normalised as described in the module docstring: ends with the primary key (in the
    direction of the last term), nothing after it.
    """
    query = queryset.query
    if query.order_by:
        items: Sequence[Any] = query.order_by
    elif query.default_ordering:
        items = query.get_meta().ordering
    else:
        items = ()
    return terms_from_ordering(items, queryset)


def terms_from_ordering(items: Iterable[Any], queryset: QuerySet[Any]) -> list[SortTerm]:
    """Ordering items as Django takes them ("-name", F(...).desc(), expressions) as terms."""
    meta = queryset.model._meta
    annotations = queryset.query.annotations
    pk_name = meta.pk.attname
    terms: list[SortTerm] = []
    seen: set[str] = set()
    for item in items:
        term = _term(item, meta, annotations)
        if term.name is not None:
            if term.name in seen:
                continue
            seen.add(term.name)
        terms.append(term)
        if term.name == pk_name:
            return terms
    descending = terms[-1].descending if terms else False
    terms.append(SortTerm(F(pk_name), descending=descending, nulls=None))
    return terms


def ordering_signature(terms: Sequence[SortTerm]) -> str:
    """A short digest naming an order, so a cursor made for one is refused by another."""
    text = "|".join(term.signature for term in terms)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _term(item: Any, meta: Options, annotations: Mapping[str, Any]) -> SortTerm:
    nulls: Nulls | None = None
    if isinstance(item, str):
        if item == "?" or "." in item:
            raise ImproperlyConfigured(f"ordering {item!r} cannot be paginated or sorted on")
        descending = item.startswith("-")
        expression: Any = F(item.removeprefix("-"))
    elif isinstance(item, OrderBy):
        expression, descending = item.expression, item.descending
        nulls = "first" if item.nulls_first else "last" if item.nulls_last else None
    elif hasattr(item, "resolve_expression"):
        expression, descending = item, False
    else:
        raise ImproperlyConfigured(f"unsupported ordering item {item!r}")
    if type(expression) is F:
        name, nullable = _resolve_path(expression.name, meta, annotations)
        expression = F(name)
    else:
        nullable = True
    if nulls is None and nullable:
        nulls = "last"
    return SortTerm(expression, descending=descending, nulls=nulls)


def _resolve_path(path: str, meta: Options, annotations: Mapping[str, Any]) -> tuple[str, bool]:
    """The path to sort and filter on, and whether its value can be NULL.

    A relation at the end becomes its key (`author` → `author_id`), since Django would sort it
    by the related model's own ordering. Anything that cannot be resolved counts as nullable.
    """
    parts = path.split("__")
    if parts[0] in annotations:
        annotation = annotations[parts[0]]
        return path, len(parts) > 1 or not isinstance(annotation, Count)
    nullable = False
    current = meta
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        try:
            field = current.pk if part == "pk" else current.get_field(part)
        except FieldDoesNotExist:
            return path, True
        if not field.is_relation:
            nullable = nullable or field.null or not last
            return (field.attname if len(parts) == 1 else path), nullable
        if field.many_to_many or field.one_to_many or not field.concrete or field.null:
            nullable = True
        if last:
            if len(parts) == 1 and field.concrete:
                return field.attname, nullable
            return f"{path}__pk", nullable
        current = field.related_model._meta
    return path, nullable


def _allowed_fields(view: Any) -> dict[str, Any]:
    """The view's `ordering_fields` as public name → model path or expression."""
    fields = getattr(view, "ordering_fields", None)
    if fields is None:
        return {}
    if isinstance(fields, Mapping):
        return dict(fields)
    if isinstance(fields, str):
        raise ImproperlyConfigured(f"{type(view).__name__}.ordering_fields must be a list or dict")
    return {name: name for name in fields}


def _default_ordering(view: Any) -> list[str]:
    ordering = getattr(view, "ordering", None)
    if ordering is None:
        return []
    return [ordering] if isinstance(ordering, str) else list(ordering)


def _ordering_item(target: Any, descending: bool) -> Any:
    if isinstance(target, str):
        return f"-{target}" if descending else target
    if isinstance(target, models.Expression | F):
        return target.desc() if descending else target.asc()
    raise ImproperlyConfigured(f"ordering field target {target!r} is not a path or expression")


class StrictOrderingFilter(BaseFilterBackend):
    """`?ordering=` over a whitelist; anything else in it is a 400, never silently ignored."""

    ordering_param = ORDERING_PARAM

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        raw = request.query_params.get(self.ordering_param)
        allowed = _allowed_fields(view)
        errors = ordering_errors(raw, allowed)
        if errors:
            raise ValidationError({self.ordering_param: errors})
        return ordered(queryset, raw, allowed=allowed, default=_default_ordering(view))

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        allowed = list(_allowed_fields(view))
        default = ",".join(_default_ordering(view))
        description = (
            "Comma-separated fields to sort by, `-` before a field for descending. "
            f"Allowed: {', '.join(f'`{name}`' for name in allowed) or 'none'}. "
            "Unknown, empty or repeated fields are a 400. NULLs sort last either way; ties are "
            "broken by `id`."
        )
        if default:
            description += f" Default: `{default}`."
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": description,
                "schema": {"type": "string", "pattern": ordering_pattern(allowed)},
            }
        ]


def ordering_errors(raw: str | None, allowed: Mapping[str, Any] | Sequence[str]) -> list[str]:
    """What is wrong with an `ordering` value (empty list: nothing, or no value)."""
    choices = ", ".join(allowed) or "(none)"
    errors: list[str] = []
    seen: set[str] = set()
    for part in raw.split(",") if raw is not None else ():
        name = part.strip().removeprefix("-")
        if not name:
            errors.append(f"Empty ordering field. Allowed: {choices}.")
        elif name not in allowed:
            errors.append(f"Unknown ordering field: {name}. Allowed: {choices}.")
        elif name in seen:
            errors.append(f"Duplicate ordering field: {name}.")
        else:
            seen.add(name)
    return errors


def ordered(
    queryset: QuerySet[Any],
    raw: str | None,
    *,
    allowed: Mapping[str, Any] | Sequence[str],
    default: Sequence[str] = (),
) -> QuerySet[Any]:
    """`queryset` sorted by an `ordering` value (public names, checked by `ordering_errors`
    first), or by `default` when there is none; ends with the primary key (`sort_terms`).

    Shared by `StrictOrderingFilter` and the callers that order a list outside a request (an
    export job applies the list's `ordering` filter).
    """
    targets = dict(allowed) if isinstance(allowed, Mapping) else {name: name for name in allowed}
    if raw is None:
        requested = list(default)
        if not requested:
            return queryset
    else:
        requested = [part.strip() for part in raw.split(",")]
    items = []
    for entry in requested:
        public = entry.removeprefix("-")
        items.append(_ordering_item(targets.get(public, public), entry.startswith("-")))
    terms = terms_from_ordering(items, queryset)
    return queryset.order_by(*(term.order_by() for term in terms))


def ordering_pattern(allowed: Sequence[str]) -> str:
    """`?ordering=` as an ECMA-262 pattern: allowed names, each maybe after `-`, comma-separated
    (spaces around an entry are ignored). Repeating a field is refused too; no pattern says so."""
    name = f"-?(?:{'|'.join(re.escape(name) for name in allowed)})" if allowed else "(?!)"
    entry = rf"\s*{name}\s*"
    return f"^{entry}(?:,{entry})*$"
