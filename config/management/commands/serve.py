"""Runs the whole stack in the foreground and stops all of it cleanly on Ctrl-C (`make run`).

The processes are the Procfile's (web, worker, beat), so a Procfile runner (honcho, overmind, a
Heroku-style host) and `serve` start the same command lines. `serve` adds what those runners
do not: the embedded mode (no broker to share, so one web process whose ASGI app runs the
worker and beat as threads), a worker or beat that dies is restarted with backoff instead of
ending the stack, and the URLs are printed once the server answers.

`serve web` is the Procfile's web process alone: uvicorn (`SERVER=daphne` for daphne) serving
HTTP and WebSockets on one port, with `WEB_CONCURRENCY` processes (default: one per core with
Redis). docs/operations.md has the measurements behind the choice.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess  # runs the Procfile's commands, no shell  # nosec B404
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.env import BASE_DIR, env

STOP_TIMEOUT_SECONDS = 15
# Below STOP_TIMEOUT_SECONDS: uvicorn closes what is still open before `serve` would kill it.
GRACEFUL_SHUTDOWN_SECONDS = 10
READY_TIMEOUT_SECONDS = 60
RESTART_BACKOFF_MAX_SECONDS = 30
SERVERS = ("uvicorn", "daphne")
# The API's limit: a bigger WebSocket message (after inflation) closes the connection with 1009.
WEBSOCKET_MAX_MESSAGE_BYTES = 1024 * 1024
UVICORN_LOG_CONFIG = Path(__file__).resolve().parents[2] / "uvicorn-logging.json"
PROCFILE = BASE_DIR / "Procfile"
WEB = "web"


@dataclass
class Child:
    """A supervised process. `essential` ones end the stack when they exit; others restart."""

    name: str
    argv: list[str]
    essential: bool = False
    process: subprocess.Popen[bytes] | None = None
    failures: int = 0
    restart_at: float | None = None

    def start(self) -> None:
        # A session of its own: Ctrl-C reaches only `serve`, which stops the children in order.
        # bandit B603: the Procfile's own commands, with no shell.
        self.process = subprocess.Popen(self.argv, start_new_session=True)  # nosec B603
        self.restart_at = None

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None


def wait_until_answering(
    url: str, *, timeout: float, give_up: Callable[[], bool] = lambda: False
) -> bool:
    """Poll `url` until it answers 200 (True), `timeout` passes or `give_up()` says so (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not give_up():
        try:
            # bandit B310: our own http:// URL of the health check.
            with urllib.request.urlopen(url, timeout=2) as response:  # nosec B310
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def procfile_processes(path: Path = PROCFILE) -> dict[str, list[str]]:
    """The Procfile's `name: command` lines, as argv lists run with this interpreter."""
    processes: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, separator, command = line.partition(":")
        argv = shlex.split(command)
        if not separator or not argv:
            raise CommandError(f"{path.name}: not `name: command`: {raw!r}")
        if argv[0] == "python":
            argv[0] = sys.executable
        processes[name.strip()] = argv
    if WEB not in processes:
        raise CommandError(f"{path.name} has no `{WEB}` process.")
    return processes


def several_processes_allowed() -> bool:
    """Several server processes share rooms and jobs only through Redis, and the embedded
    worker (with beat) must exist once: otherwise the stack is one process."""
    return bool(settings.REDIS_URL) and not settings.EMBEDDED_WORKER


def default_workers() -> int:
    """One process per core this process may run on (a cpuset or affinity mask counts)."""
    if not several_processes_allowed():
        return 1
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def uvicorn_argv(
    host: str,
    port: int,
    workers: int,
    *,
    log_level: str = "WARNING",
    application: str = "config.asgi:application",
) -> list[str]:
    """uvicorn as `serve` runs it (tests/perf/servers.py measures the same command line)."""
    # uvicorn's own INFO lines are start-up chatter (`serve` prints its banner); its warnings
    # and errors still reach the app's log handlers.
    uvicorn_level = max(log_level.upper(), "WARNING", key=logging.getLevelName).lower()
    return _python(
        "-m",
        "uvicorn",
        application,
        f"--host={host}",
        f"--port={port}",
        f"--workers={workers}",
        "--loop=uvloop",
        "--http=httptools",
        "--ws=websockets-sansio",
        f"--ws-max-size={WEBSOCKET_MAX_MESSAGE_BYTES}",
        # permessage-deflate costs a compressor per socket and a compression per frame per
        # socket; events are small JSON (docs/websocket.md has the measurement).
        f"--ws-per-message-deflate={str(settings.WS_COMPRESSION).lower()}",
        # Channels' router has no lifespan protocol; `auto` would log that at every start.
        "--lifespan=off",
        # The app's own access log (agora.access) redacts credentials in query strings.
        "--no-access-log",
        # X-Forwarded-For is judged by the app against TRUSTED_PROXIES (config/client_ip.py);
        # uvicorn's default would believe it from any local connection.
        "--no-proxy-headers",
        "--no-server-header",
        f"--timeout-graceful-shutdown={GRACEFUL_SHUTDOWN_SECONDS}",
        f"--log-config={UVICORN_LOG_CONFIG}",
        f"--log-level={uvicorn_level}",
    )


def daphne_argv(host: str, port: int) -> list[str]:
    # Verbosity 0: the app's own access log redacts credentials, daphne's would not.
    return _python(
        "-m", "daphne", "-b", host, "-p", str(port), "-v", "0", "config.asgi:application"
    )


class Command(BaseCommand):
    help = "Serve HTTP and WebSockets on one port, plus the Celery worker and beat."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "process",
            nargs="?",
            choices=[WEB],
            help="`web`: only the server (the Procfile's web process); default: the whole stack",
        )
        # These may come from the environment or `.env`, as `make run` documents.
        parser.add_argument("--host", default=env.str("HOST", default="127.0.0.1"))
        parser.add_argument("--port", type=int, default=env.int("PORT", default=8000))
        parser.add_argument(
            "--server", choices=SERVERS, default=env.str("SERVER", default="uvicorn")
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=env.int("WEB_CONCURRENCY", default=0),
            help="server processes (uvicorn only; default: one per core with Redis, else 1)",
        )

    def handle(
        self,
        *args: Any,
        process: str | None,
        host: str,
        port: int,
        server: str,
        workers: int,
        **options: Any,
    ) -> None:
        if server not in SERVERS:
            raise CommandError(f"SERVER must be one of {', '.join(SERVERS)}, not {server!r}.")
        workers = self._workers(server, workers)
        if process == WEB:
            self._exec_web(host, port, server, workers)
        children = self._children(host, port, server, workers)
        stopping = False

        def request_stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        for child in children:
            child.start()
        exit_code = 0
        try:
            self._announce_when_ready(host, port, children, lambda: stopping, server, workers)
            while not stopping and not exit_code:
                exit_code = self._supervise(children)
                time.sleep(0.2)
        finally:
            self._stop(children)
        if exit_code:
            raise CommandError("A component of the stack failed.", returncode=exit_code)
        self.stdout.write("Agora stopped.")

    def _supervise(self, children: list[Child]) -> int:
        """Restart a worker or beat that died (backing off); non-zero when the server died."""
        now = time.monotonic()
        for child in children:
            if child.restart_at is not None and now >= child.restart_at:
                self.stderr.write(f"restarting {child.name}")
                child.start()
            elif child.restart_at is None and child.exited():
                if child.essential:
                    self.stderr.write(f"{child.name} exited; stopping everything.")
                    return 1
                child.failures += 1
                delay = min(RESTART_BACKOFF_MAX_SECONDS, 2 ** (child.failures - 1))
                self.stderr.write(f"{child.name} exited; restarting it in {delay} s.")
                child.restart_at = now + delay
        return 0

    def _workers(self, server: str, requested: int) -> int:
        if requested < 0:
            raise CommandError("WEB_CONCURRENCY must be 0 (automatic) or more.")
        if requested > 1 and (server != "uvicorn" or not several_processes_allowed()):
            why = (
                "daphne runs one process"
                if server != "uvicorn"
                else "without REDIS_URL (or with EMBEDDED_WORKER) the stack is one process"
            )
            self.stderr.write(f"WEB_CONCURRENCY={requested} ignored: {why}.")
            return 1
        return requested or default_workers()

    def _exec_web(self, host: str, port: int, server: str, workers: int) -> None:
        """Become the server process, so signals from a Procfile runner reach it directly."""
        argv = (
            uvicorn_argv(host, port, workers, log_level=settings.LOG_LEVEL)
            if server == "uvicorn"
            else daphne_argv(host, port)
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(argv[0], argv)  # noqa: S606 - our own interpreter and arguments  # nosec B606

    def _children(self, host: str, port: int, server: str, workers: int) -> list[Child]:
        """The Procfile's processes; in the embedded mode only `web`, which runs the rest."""
        processes = procfile_processes()
        names = [WEB]
        if settings.REDIS_URL and not settings.EMBEDDED_WORKER:
            names += [name for name in processes if name != WEB]
        # The web process reads its address and size from the environment, as under a runner.
        os.environ.update(HOST=host, PORT=str(port), SERVER=server, WEB_CONCURRENCY=str(workers))
        return [Child(name, processes[name], essential=name == WEB) for name in names]

    def _announce_when_ready(
        self,
        host: str,
        port: int,
        children: list[Child],
        stopping: Any,
        server: str,
        workers: int,
    ) -> None:
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104  # nosec B104
        base = f"http://{shown_host}:{port}"
        answering = wait_until_answering(
            f"{base}/health",
            timeout=READY_TIMEOUT_SECONDS,
            give_up=lambda: stopping() or any(c.essential and c.exited() for c in children),
        )
        if not answering:
            return
        processes = f"{server}, {workers} process" + ("es" if workers > 1 else "")
        mode = (
            f"embedded: {processes}, worker and beat in-process"
            if settings.EMBEDDED_WORKER
            else f"services: {processes}, worker and beat as processes"
        )
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Agora is running ({mode}). Press Ctrl-C to stop.",
                    f"  API        {base}/api/v1/",
                    f"  Docs       {base}/docs   (ReDoc: {base}/redoc)",
                    f"  Health     {base}/health/ready",
                    f"  Admin      {base}/admin/",
                    f"  WebSocket  ws://{shown_host}:{port}/ws/v1/",
                    "",
                ]
            )
        )
        self.stdout.flush()

    def _stop(self, children: list[Child]) -> None:
        running = [c for c in children if c.process is not None and not c.exited()]
        for child in reversed(running):
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for child in running:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{child.name} did not stop in time; killing it.")
                child.process.kill()
                child.process.wait()
