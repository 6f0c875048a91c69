"""A webhook receiver for the tests: a real HTTP server on 127.0.0.2 (a loopback address the
tests allow with WEBHOOK_ALLOWED_NETWORKS=127.0.0.2/32) that records what it gets and answers
as told: 200, 500, slowly, with a redirect, or with a huge body; it can be stopped and started
again on the same port (a receiver that is down for a while)."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.2"
# How long a "slow" receiver waits before answering; the tests set WEBHOOK_TIMEOUT_SECONDS
# below it.
SLOW_SECONDS = 3.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int = 0
    # "ok", "fail" (500), "slow", "redirect" (302 to `redirect_to`), "huge" (a 1 MiB answer)
    mode: str = "ok"
    redirect_to: str = ""
    received: list[Received] = field(default_factory=list)
    # When each request was read (time.monotonic), in the order of `received`.
    arrivals: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.arrivals.append(time.monotonic())
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                self._answer(receiver.mode)

            def _answer(self, mode: str) -> None:
                if mode == "slow":
                    time.sleep(SLOW_SECONDS)
                if mode == "fail":
                    self._send(500, b"receiver broke")
                elif mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", receiver.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif mode == "huge":
                    self._send(200, b"x" * (1024 * 1024))
                else:
                    self._send(200, b"ok")

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def ids(self) -> list[str]:
        with self.lock:
            return [item.headers["webhook-id"] for item in self.received]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        with self.lock:
            raise AssertionError(f"got {len(self.received)} of {count} deliveries")
