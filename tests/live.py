"""Runs the real server (`manage.py serve`) in a child process, against the test database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from config.management.commands.serve import wait_until_answering

BASE_DIR = Path(settings.BASE_DIR)
START_TIMEOUT_SECONDS = 45


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_database_url(*, port: int | None = None) -> str:
    """A DATABASE_URL that reaches the database this test session is using (on PostgreSQL,
    through 127.0.0.1:`port` when given, e.g. a tests.tcp_proxy in front of it)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    credentials = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    address = f"127.0.0.1:{port}" if port else f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{credentials}@{address}/{db['NAME']}"


def http_get(url: str, timeout: float = 30) -> tuple[int, Message, bytes]:
    """Status, headers (case-insensitive) and body, for any status."""
    return http_request("GET", url, timeout=timeout)


def http_request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, Message, bytes]:
    """Status, headers (case-insensitive) and body, for any status; `TimeoutError` (or
    `URLError`) when no answer came within `timeout`."""
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def live_server_env(**overrides: str) -> dict[str, str]:
    """The environment of a server process that shares this test session's database."""
    redis_url = overrides.get("REDIS_URL", os.environ.get("REDIS_URL", ""))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DJANGO_ENV": "test",
        "DATABASE_URL": session_database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "LOG_LEVEL": "WARNING",
        # As `make run`: jobs run in-process without Redis, in worker processes with it.
        "EMBEDDED_WORKER": "false" if redis_url else "true",
        # One server process unless a test asks for more: each one loads Django (seconds on
        # two busy cores), and a test talks to one of them anyway.
        "WEB_CONCURRENCY": "1",
        **overrides,
    }
    return {key: value for key, value in env.items() if value != ""}


class LiveServer:
    """`manage.py serve [args]` on one port, which can be stopped and started again there (a
    server restart as clients see it); `live_server()` is the usual one-shot form."""

    def __init__(self, *args: str, port: int | None = None, **env_overrides: str) -> None:
        self.args = args
        self.port = port or free_port()
        self.env = live_server_env(**env_overrides)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._output: Any = None
        # What the last run printed, kept when `stop()` ends it.
        self.stopped_output = ""

    def start(self) -> None:
        """Start the server and wait until it answers; raises with its output if it does not."""
        # A file, not a pipe: nobody reads a pipe while the test runs, and a server that logs a
        # lot (a database outage does) would block once the pipe's buffer is full.
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "serve",
                *self.args,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        process = self.process
        up = wait_until_answering(
            f"{self.base_url}/health",
            timeout=START_TIMEOUT_SECONDS,
            give_up=lambda: process.poll() is not None,
        )
        if not up:
            output = self.output()
            self.stop()
            raise RuntimeError(f"server did not start:\n{output}")

    def output(self) -> str:
        if self._output is None:
            return ""
        self._output.seek(0)
        return self._output.read().decode(errors="replace")

    def stop(self) -> None:
        """Stop it as Ctrl-C does (its sockets close with 1012); kill it if that hangs."""
        process, self.process = self.process, None
        if process is not None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._output is not None:
            self.stopped_output = self.output()
            self._output.close()
            self._output = None

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def live_server(**env_overrides: str) -> Iterator[str]:
    """Start `manage.py serve` on a free port; yields its base URL; stops it afterwards."""
    with LiveServer(**env_overrides) as server:
        yield server.base_url
