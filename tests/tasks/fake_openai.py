"""A local OpenAI-compatible provider for the assistant's tests: `/v1/chat/completions`, whole
or streamed, on 127.0.0.1, that can also be slow, fail, answer garbage or cut its stream.

    with FakeOpenAI() as provider:          # provider.url is the OPENAI_BASE_URL
        provider.queue(Reply(kind="status", status=500), Reply())   # then the default, Reply()

Each request takes the next queued `Reply` (the default one when none is left) and is recorded
in `requests` (its JSON body, and its headers with lower-case names).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_TEXT = "Grüß Gott! Zoë und 李雷 lesen den Beitrag 🚀 und fassen ihn zusammen."
DEFAULT_USAGE = {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}


@dataclass
class Reply:
    """What the provider does with one request.

    kind: `ok` (the reply), `status` (an error status with an OpenAI error body), `garbage`
    (200 with a body that is not the protocol), `cut` (the connection closed early: a stream
    after `cut_after` chunks, without `[DONE]`; a whole reply half-way through its body).
    """

    kind: str = "ok"
    text: str = DEFAULT_TEXT
    status: int = 200
    # Seconds before the status line, and between two chunks of a stream.
    delay: float = 0.0
    chunk_delay: float = 0.0
    # Characters per streamed chunk.
    chunk_size: int = 8
    cut_after: int = 2
    model: str = "fake-model-1"
    usage: dict[str, int] | None = field(default_factory=lambda: dict(DEFAULT_USAGE))
    headers: dict[str, str] = field(default_factory=dict)


class FakeOpenAI:
    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def next_reply(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append({"body": body, "headers": headers})
            return self.replies.popleft() if self.replies else self.default

    def wait(self, seconds: float) -> None:
        """Sleep, unless the server is closing."""
        if seconds > 0:
            self.stopping.wait(seconds)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def _handler(provider: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; without this, Nagle's algorithm holds the
            # body back until the client's delayed ACK (40 ms), which no real provider costs.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read `requests` instead."""

        def do_POST(self) -> None:
            try:
                self._answer()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": {"message": "Not found", "type": "invalid_request"}})
                return
            body = json.loads(raw)
            reply = provider.next_reply(body, {k.lower(): v for k, v in self.headers.items()})
            provider.wait(reply.delay)
            if reply.kind == "status":
                error = {"message": "The fake provider failed.", "type": "server_error"}
                self._send(reply.status, {"error": error}, reply.headers)
            elif reply.kind == "garbage" and not body.get("stream"):
                self._send_raw(200, b'{"choices": [{"message": ', "application/json")
            elif body.get("stream"):
                self._stream(reply, body)
            elif reply.kind == "cut":
                self._cut(json.dumps(_completion(reply, body)).encode())
            else:
                self._send(200, _completion(reply, body))

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            self._send_raw(status, json.dumps(payload).encode(), "application/json", headers)

        def _send_raw(
            self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _cut(self, data: bytes) -> None:
            """Promise the whole body, send half of it, hang up."""
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])

        def _stream(self, reply: Reply, body: dict[str, Any]) -> None:
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            pieces = [
                reply.text[i : i + reply.chunk_size]
                for i in range(0, len(reply.text), reply.chunk_size)
            ]
            for index, piece in enumerate(pieces):
                if reply.kind == "cut" and index == reply.cut_after:
                    return
                if index:
                    provider.wait(reply.chunk_delay)
                if reply.kind == "garbage":
                    self._event(b"{not json at all")
                    return
                self._event(json.dumps(_chunk(reply, {"content": piece})).encode())
            include_usage = (body.get("stream_options") or {}).get("include_usage")
            if include_usage and reply.usage is not None:
                last = {**_chunk(reply, None), "choices": [], "usage": reply.usage}
                self._event(json.dumps(last).encode())
            self._event(b"[DONE]")

        def _event(self, data: bytes) -> None:
            self.wfile.write(b"data: " + data + b"\n\n")
            self.wfile.flush()

    return Handler


def _completion(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": "stop",
            }
        ],
        "usage": reply.usage,
    }


def _chunk(reply: Reply, delta: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": reply.model,
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": None}],
    }
