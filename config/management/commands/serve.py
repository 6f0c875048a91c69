"""Runs the whole stack in the foreground and stops all of it cleanly on Ctrl-C.

Embedded mode (no broker to share): one daphne process, whose ASGI app starts the worker and
beat as threads. With `REDIS_URL`: daphne, a Celery worker and Celery beat as processes.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.env import env

STOP_TIMEOUT_SECONDS = 15
READY_TIMEOUT_SECONDS = 60
RESTART_BACKOFF_MAX_SECONDS = 30


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
        self.process = subprocess.Popen(self.argv, start_new_session=True)
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
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


class Command(BaseCommand):
    help = "Serve HTTP and WebSockets with daphne, plus the Celery worker and beat."

    def add_arguments(self, parser: Any) -> None:
        # HOST and PORT may come from the environment or `.env`, as `make run` documents.
        parser.add_argument("--host", default=env.str("HOST", default="127.0.0.1"))
        parser.add_argument("--port", type=int, default=env.int("PORT", default=8000))

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        children = self._children(host, port)
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
            self._announce_when_ready(host, port, children, lambda: stopping)
            while not stopping and not exit_code:
                exit_code = self._supervise(children)
                time.sleep(0.2)
        finally:
            self._stop(children)
        if exit_code:
            raise CommandError("A component of the stack failed.", returncode=exit_code)
        self.stdout.write("Agora stopped.")

    def _supervise(self, children: list[Child]) -> int:
        """Restart a worker or beat that died (backing off); non-zero when daphne died."""
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

    def _children(self, host: str, port: int) -> list[Child]:
        level = settings.LOG_LEVEL.lower()
        # Verbosity 0: the app's own access log redacts credentials, daphne's would not.
        daphne = ["-m", "daphne", "-b", host, "-p", str(port), "-v", "0", "config.asgi:application"]
        children = [Child("daphne", _python(*daphne), essential=True)]
        if settings.REDIS_URL and not settings.EMBEDDED_WORKER:
            celery = ["-m", "celery", "-A", "config"]
            children += [
                Child("worker", _python(*celery, "worker", "-l", level)),
                Child("beat", _python(*celery, "beat", "-l", level, "--pidfile=")),
            ]
        return children

    def _announce_when_ready(
        self, host: str, port: int, children: list[Child], stopping: Any
    ) -> None:
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        base = f"http://{shown_host}:{port}"
        answering = wait_until_answering(
            f"{base}/health",
            timeout=READY_TIMEOUT_SECONDS,
            give_up=lambda: stopping() or any(c.essential and c.exited() for c in children),
        )
        if not answering:
            return
        mode = (
            "embedded: worker and beat in-process"
            if settings.EMBEDDED_WORKER
            else "services: worker and beat as processes"
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
