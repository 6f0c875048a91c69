"""Real processes for the fault tests: a Celery prefork worker, a redis-server of the test's own
(one it may stop), and a way to kill a process with its children as `kill -9` would.

Each process starts in a session of its own, so killing its group never reaches pytest; every
wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from tests.live import BASE_DIR, free_port, live_server_env

STOP_TIMEOUT_SECONDS = 20


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Poll `condition` until it returns something true (returned); AssertionError naming
    `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {timeout} s")
        time.sleep(0.05)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children first, then theirs), from /proc."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found.append(child)
            pending.append(child)
    return found


def kill_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL `process` and everything it started, at once (the OOM killer, a power cut)."""
    for pid in [process.pid, *descendants(process.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=STOP_TIMEOUT_SECONDS)


class _Child:
    """A child process in its own session, its output kept in a file (never a full pipe)."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv = argv
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _reap()
        self.process = subprocess.Popen(
            self.argv,
            cwd=BASE_DIR,
            env=self.env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self.process

    def output(self) -> str:
        if self._output is None:
            return ""
        self._output.seek(0)
        return self._output.read().decode(errors="replace")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """`kill -9` of the whole process group: the main process and every pool child."""
        if self.process is not None:
            _signal_group(self.process, signal.SIGKILL)
        self._reap()

    def stop(self) -> None:
        """SIGTERM to the group (a warm shutdown), SIGKILL if it outlives STOP_TIMEOUT_SECONDS."""
        if self.process is not None and self.process.poll() is None:
            _signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                _signal_group(self.process, signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
            # Pool children of a killed group are killed with it; wait for their exit too.
            _wait_group_gone(process.pid)
        if self._output is not None:
            self._output.close()
            self._output = None

    def __enter__(self) -> Any:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._spawn()


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _wait_group_gone(pgid: int) -> None:
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.killpg(pgid, signal.SIGKILL)


class CeleryWorker(_Child):
    """`celery -A config worker` as the Procfile starts it (every queue, high first), with the
    prefork pool, against this test session's database; `env` overrides settings."""

    def __init__(self, *, concurrency: int = 1, name: str = "faults", **env: str) -> None:
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            f"--hostname={name}-{os.getpid()}@%h",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ]
        super().__init__(argv, live_server_env(EMBEDDED_WORKER="false", **env))


class CeleryBeat(_Child):
    """`celery -A config beat` as the Procfile starts it; `env` overrides settings."""

    def __init__(self, **env: str) -> None:
        argv = [sys.executable, "-m", "celery", "-A", "config", "beat", "--pidfile="]
        super().__init__(argv, live_server_env(EMBEDDED_WORKER="false", **env))


class RedisServer(_Child):
    """A redis-server of the test's own on 127.0.0.1 (no persistence, like the CI's): stopped
    and started again on the same port, it comes back empty, as a restarted Redis without
    persistence does."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        argv = [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--loglevel",
            "warning",
        ]
        super().__init__(argv, dict(os.environ))

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._spawn()
        try:
            wait_until(self.answers, timeout=10, what=f"redis-server answering on {self.port}")
        except AssertionError:
            output = self.output()
            self.kill()
            raise RuntimeError(f"redis-server did not start:\n{output}") from None

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False
