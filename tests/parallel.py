"""Isolation of pytest-xdist workers (`make test` runs the suite in `PYTEST_WORKERS` processes).

Loaded with `-p tests.parallel` (pyproject's addopts), so it runs before pytest-django imports
the settings: each worker then gets its own SQLite file and its own Redis database, as if it
were the only suite on the machine. PostgreSQL needs nothing: pytest-django already gives each
worker its own test database (`test_<name>_gw0`, …). Server processes a test starts inherit the
adjusted environment, so they share their worker's database and Redis, never another's.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from urllib.parse import urlsplit, urlunsplit


def worker_index(environ: MutableMapping[str, str]) -> int | None:
    """0, 1, … in an xdist worker (`gw0`, `gw1`, …); None in a plain run or the controller."""
    worker = environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker.removeprefix("gw")) if worker.startswith("gw") else None


def redis_url_for_worker(url: str, index: int) -> str:
    """The same Redis server, database number `index` higher than the URL's own."""
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) + index
    return urlunsplit(parts._replace(path=f"/{database}"))


def isolate_worker(environ: MutableMapping[str, str]) -> None:
    index = worker_index(environ)
    if index is None:
        return
    sqlite_name = environ.get("TEST_SQLITE_NAME", "test.sqlite3")
    stem, dot, suffix = sqlite_name.rpartition(".")
    environ["TEST_SQLITE_NAME"] = f"{stem}-gw{index}.{suffix}" if dot else f"{suffix}-gw{index}"
    if environ.get("REDIS_URL"):
        environ["REDIS_URL"] = redis_url_for_worker(environ["REDIS_URL"], index)


isolate_worker(os.environ)
