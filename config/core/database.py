"""A database that cannot be reached, told apart from a bug: the first is a 503, the second a 500.

Django wraps every driver error in its own classes (`django.db.OperationalError`, ...) with the
driver's error as `__cause__`. Only PostgreSQL's connection-level failures count as the
database being unavailable:

- psycopg's `OperationalError` without a SQLSTATE: raised on the client side when the server
  refuses or drops the connection, when a connection is already closed, and by psycopg_pool
  when no connection came within its `timeout` (`PoolTimeout`) or its queue is full, and by the
  connection gate of `config.core.postgresql` while the pool cannot connect;
- SQLSTATE class 08 (connection exception), 57P01-57P03 (the server is shutting down, crashed,
  or is starting up) and 53300 (too many connections).

Everything else stays an error of ours: a constraint violation (IntegrityError), a bad query
(ProgrammingError), a cancelled statement or a lock timeout (OperationalError with their
SQLSTATE), and every SQLite error ("no such table" is an OperationalError there). psycopg 3
reports a lost connection as OperationalError; its InterfaceErrors are misuse of the driver.
"""

from __future__ import annotations

import logging

import psycopg
from django.db import OperationalError

from config.core.errors import ServiceUnavailable

logger = logging.getLogger("agora.database")

# Seconds a client is told to wait: about how often the pool tries to connect again.
RETRY_AFTER_SECONDS = 2
CONNECTION_SQLSTATE_CLASS = "08"
CONNECTION_SQLSTATES = frozenset({"53300", "57P01", "57P02", "57P03"})


class DatabaseUnavailable(ServiceUnavailable):
    default_message = "The database is unavailable; try again shortly."


class DatabaseUnreachable(psycopg.OperationalError):
    """Raised without waiting while the pool has failed to connect and has no idle connection."""


def is_connection_failure(error: BaseException | None) -> bool:
    """Whether a driver error says the database could not be reached (see the module doc)."""
    if not isinstance(error, psycopg.OperationalError):
        return False
    sqlstate = error.sqlstate
    return (
        sqlstate is None
        or sqlstate.startswith(CONNECTION_SQLSTATE_CLASS)
        or sqlstate in CONNECTION_SQLSTATES
    )


def database_unavailable(exc: BaseException | None) -> DatabaseUnavailable | None:
    """The 503 error for an exception that means the database cannot be reached, else None.

    Takes Django's wrapped error or the driver's own. Logs a warning for each such failure
    except the gate's instant refusals, whose outage the gate logged once when it began.
    """
    cause = exc.__cause__ if isinstance(exc, OperationalError) else exc
    if not is_connection_failure(cause):
        return None
    if not isinstance(cause, DatabaseUnreachable):
        # No traceback: the fault is outside the code. The message names the failure.
        logger.warning("database unavailable: %s: %s", type(cause).__name__, cause)
    return DatabaseUnavailable(retry_after=RETRY_AFTER_SECONDS)
