"""Django's PostgreSQL backend, plus a gate that answers at once while the pool cannot connect.

With the psycopg pool, Django asks `pool.getconn()` for a connection, which waits up to the
pool's `timeout` for one. When the database is gone, every request waits that whole time and
then fails, and the server's threads all sit waiting while more requests queue behind them.

The gate remembers that a wait timed out while the pool could not connect. From then on, a
request that finds no idle connection in the pool is refused at once with
`DatabaseUnreachable` (a psycopg OperationalError: Django wraps it as usual, and the API
answers 503, see config.core.database), and nudges the pool to start a connection attempt if
none is under way. The first connection handed out again opens the gate. An idle connection
is always tried: the database may be refusing only new connections (too many clients) while
the pooled ones still work. A wait that timed out because every connection of a full pool was
busy, with no failed connection attempt, leaves the gate open: the database is answering,
and the next request may well get a connection that is handed back meanwhile.

State is per pool, so per process; nothing is shared or stored.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base as postgresql
from django.db.backends.postgresql import operations as postgresql_operations
from psycopg_pool import ConnectionPool, PoolTimeout

from config.core.database import DatabaseUnreachable

logger = logging.getLogger("agora.database")


class ConnectionGate:
    """Whether one pool cannot connect to the database, and since when."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_since: float | None = None
        # The pool's count of failed connection attempts when the gate last opened.
        self._errors_when_up = 0

    def refuse_while_down(self, pool: ConnectionPool) -> None:
        """Raise `DatabaseUnreachable` if the pool is down and has no idle connection."""
        # Read once: another thread may open the gate meanwhile.
        down_since = self.down_since
        if down_since is None or pool.get_stats().get("pool_available", 0):
            return
        # With an empty pool, check() only starts a connection attempt (unless one is already
        # under way): without it nothing would try again once psycopg_pool gave up retrying.
        pool.check()
        raise DatabaseUnreachable(
            "no connection to the database: the pool has failed to connect for "
            f"{time.monotonic() - down_since:.1f} s"
        )

    def mark_down(self, pool: ConnectionPool) -> None:
        """After a wait for a connection timed out: close unless the pool was merely busy."""
        stats = pool.get_stats()
        busy = (
            stats.get("pool_size", 0) >= stats.get("pool_max", 0)
            and stats.get("connections_errors", 0) <= self._errors_when_up
        )
        with self._lock:
            if busy or self.down_since is not None:
                return
            self.down_since = time.monotonic()
        logger.warning(
            "database unreachable: requests that need a new connection are refused at once "
            "until the pool connects again"
        )

    def mark_up(self, pool: ConnectionPool) -> None:
        if self.down_since is None:
            return
        with self._lock:
            if self.down_since is None:
                return
            down_for = time.monotonic() - self.down_since
            self.down_since = None
            self._errors_when_up = pool.get_stats().get("connections_errors", 0)
        logger.warning("database reachable again after %.1f s", down_for)


_gates: weakref.WeakKeyDictionary[ConnectionPool, ConnectionGate] = weakref.WeakKeyDictionary()
_gates_lock = threading.Lock()


def gate_of(pool: ConnectionPool) -> ConnectionGate:
    """The gate of `pool` (a pool closed and made anew, as tests do, gets a new one)."""
    with _gates_lock:
        gate = _gates.get(pool)
        if gate is None:
            gate = _gates[pool] = ConnectionGate()
        return gate


class DatabaseOperations(postgresql_operations.DatabaseOperations):
    def sql_flush(
        self,
        style: Any,
        tables: list[str],
        *,
        reset_sequences: bool = False,
        allow_cascade: bool = False,
    ) -> list[str]:
        """With `DB_FLUSH_WITH_DELETE` (the test settings), a flush deletes rows instead of
        truncating tables: the suite flushes after every transactional test, its tables hold
        a handful of rows, and TRUNCATE's new files cost tens of times more than that.
        Django's foreign keys on PostgreSQL are deferred, so the order of the DELETEs does
        not matter inside the flush's transaction."""
        if not getattr(settings, "DB_FLUSH_WITH_DELETE", False) or reset_sequences or not tables:
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        return [
            f"{style.SQL_KEYWORD('DELETE')} {style.SQL_KEYWORD('FROM')} "
            f"{style.SQL_FIELD(self.quote_name(table))};"
            for table in tables
        ]


class DatabaseWrapper(postgresql.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        pool = self.pool
        if pool is None:
            return super().get_new_connection(conn_params)
        gate = gate_of(pool)
        gate.refuse_while_down(pool)
        try:
            connection = super().get_new_connection(conn_params)
        except PoolTimeout:
            gate.mark_down(pool)
            raise
        gate.mark_up(pool)
        return connection
