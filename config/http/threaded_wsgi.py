"""HTTP for the ASGI server: Django's WSGI handler on a bounded pool of threads.

Measured on this project (docs/operations.md, "Choosing the server"): Django's ASGI handler runs
every request of our synchronous views in a thread of its own (a new one per request, through
asgiref's `ThreadSensitiveContext`) after several hops between the event loop and that thread;
the same views behind a WSGI server answer three to four times as many requests. This adapter
keeps one ASGI server for HTTP and WebSockets on one port and gives HTTP the WSGI path: the
event loop reads the request body, one hop runs the whole request (middleware, view, response
`close()`, which returns the database connection) on a reused pool thread, and the loop sends
the answer.

The hop goes through asgiref's `sync_to_async` with our executor, so `async_to_sync` inside a
view (`realtime.broadcast`, the channel layer health probe) runs on the server's event loop, as
under Django's ASGI handler, and reuses its Redis connections instead of making a loop per call.
Streaming responses are iterated on their request's thread (the database cursor of an export
stays on its connection) and each piece is sent before the next is made.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ClientGone(Exception):
    """The client disconnected before the request body was read."""


def wsgi_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """The PEP 3333 environ of an ASGI HTTP scope (strings are latin-1 decoded bytes)."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    path = scope["path"].encode("utf-8").decode("latin-1")
    root_path = scope.get("root_path", "").encode("utf-8").decode("latin-1")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": root_path,
        "PATH_INFO": path.removeprefix(root_path) if root_path else path,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] if server[1] is not None else 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"
        if key in environ:
            # Repeated headers are one comma-separated value; cookies use their own separator.
            environ[key] += ("; " if key == "HTTP_COOKIE" else ",") + value
        else:
            environ[key] = value
    environ["CONTENT_LENGTH"] = str(len(body))
    return environ


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class ThreadedWSGIHandler:
    """An ASGI application that serves HTTP through a WSGI application on `threads` threads."""

    def __init__(self, wsgi_application: WSGIApp, *, threads: int) -> None:
        self.wsgi_application = wsgi_application
        self.threads = threads
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await read_body(receive)
        except ClientGone:
            return
        loop = asyncio.get_running_loop()
        run = sync_to_async(self._respond, thread_sensitive=False, executor=self.executor)
        start, content = await run(wsgi_environ(scope, body), loop, send)
        if start is not None:
            await send(start)
            await send({"type": "http.response.body", "body": content})

    def _respond(
        self, environ: dict[str, Any], loop: asyncio.AbstractEventLoop, send: Send
    ) -> tuple[Message | None, bytes]:
        """Run the request on this pool thread.

        A buffered response comes back whole, to be sent by the loop; a streaming one is sent
        from here piece by piece (None is returned), waiting on the client as it goes.
        """
        started: list[Message] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            started[:] = [
                {
                    "type": "http.response.start",
                    "status": int(status.split(" ", 1)[0]),
                    "headers": [
                        (name.lower().encode("latin-1"), value.encode("latin-1"))
                        for name, value in headers
                    ],
                }
            ]
            return _no_write

        result = self.wsgi_application(environ, start_response)
        try:
            if not getattr(result, "streaming", False):
                content = b"".join(result)
                return started[0], content

            def send_now(message: Message) -> None:
                asyncio.run_coroutine_threadsafe(send(message), loop).result()

            send_now(started[0])
            for piece in result:
                if piece:
                    send_now({"type": "http.response.body", "body": piece, "more_body": True})
            send_now({"type": "http.response.body", "body": b""})
            return None, b""
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


def _no_write(data: bytes) -> None:
    raise NotImplementedError("the WSGI write() callable is not supported")
