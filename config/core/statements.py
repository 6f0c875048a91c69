"""Several writes as one round trip: plain INSERT and UPDATE statements run together, atomically.

A hot write that touches a few tables (a comment, its post's count, its audit record, its
notification) pays, through the ORM, for compiling each statement (more CPU than its round
trip) and for BEGIN and COMMIT round trips of its own (psycopg sends each as a command).
`statements_run` sends them as one query instead. On PostgreSQL, with Django's client-side
binding, that is one simple-protocol query; PostgreSQL runs the statements of one such query
as one transaction (or as part of the caller's transaction inside `atomic`), so either all
of them are written or none. Elsewhere (SQLite, or PostgreSQL with `server_side_binding`,
which takes one statement per query) they run one by one inside `atomic`.

Model signals are not sent and `save()` is not called: use it only for models whose writes
need neither (their services say so).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models, transaction

Statement = tuple[str, list[Any]]


def insert_statement(instances: Sequence[models.Model]) -> Statement:
    """One INSERT of `instances` (all of one model), with every concrete field's value as
    `save()` would write it (auto_now and auto_now_add set on the instances too)."""
    meta = type(instances[0])._meta
    fields = [field for field in meta.concrete_fields if not field.generated]
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params: list[Any] = []
    for instance in instances:
        params.extend(
            field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
        )
    columns = ", ".join(quote(field.column) for field in fields)
    rows = ", ".join([row] * len(instances))
    # Names from the model's metadata, values as parameters.
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {rows}"  # noqa: S608  # nosec B608
    return sql, params


def statements_run(statements: Sequence[Statement]) -> None:
    """Run `statements` in order, all or none, in one round trip where the database allows
    (`instances_saved` then marks the instances their INSERTs wrote)."""
    if connection.vendor == "postgresql" and not _server_side_binding():
        with connection.cursor() as cursor:
            cursor.execute(
                ";\n".join(sql for sql, _ in statements),
                [param for _, params in statements for param in params],
            )
        return
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)


def _server_side_binding() -> bool:
    """psycopg's server-side binding takes one statement per query: then one by one."""
    return bool(connection.settings_dict.get("OPTIONS", {}).get("server_side_binding"))


def instances_saved(instances: Sequence[models.Model]) -> None:
    """Mark instances written by `insert_statement` as loaded from the database."""
    for instance in instances:
        instance._state.adding = False
        instance._state.db = connection.alias
