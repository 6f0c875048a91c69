"""The HTTP path of the ASGI server: a WSGI application on a pool of threads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import ApplicationCommunicator, HttpCommunicator

from config.http.threaded_wsgi import ThreadedWSGIHandler, wsgi_environ

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _scope(**overrides: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("203.0.113.7", 50123),
        "server": ("127.0.0.1", 8000),
        **overrides,
    }


def _echo_environ(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    keys = ("PATH_INFO", "QUERY_STRING", "HTTP_COOKIE", "HTTP_ACCEPT", "REMOTE_ADDR")
    lines = [f"{key}={environ.get(key)}" for key in keys]
    lines.append(f"body={environ['wsgi.input'].read().decode()}")
    return ["\n".join(lines).encode("utf-8")]


def test_the_environ_carries_path_query_and_client_as_pep_3333_wants() -> None:
    environ = wsgi_environ(_scope(path="/api/v1/users/李雷", query_string=b"q=caf%C3%A9"), b"{}")

    assert environ["PATH_INFO"].encode("latin-1").decode("utf-8") == "/api/v1/users/李雷"
    assert environ["QUERY_STRING"] == "q=caf%C3%A9"
    assert (environ["REMOTE_ADDR"], environ["SERVER_PORT"]) == ("203.0.113.7", "8000")
    assert environ["CONTENT_LENGTH"] == "2"


def test_repeated_headers_are_joined_and_cookies_keep_their_separator() -> None:
    headers = [(b"accept", b"a/b"), (b"accept", b"c/d"), (b"cookie", b"a=1"), (b"cookie", b"b=2")]

    environ = wsgi_environ(_scope(headers=headers), b"")

    assert environ["HTTP_ACCEPT"] == "a/b,c/d"
    assert environ["HTTP_COOKIE"] == "a=1; b=2"


async def test_a_request_is_answered_by_the_wsgi_application() -> None:
    communicator = HttpCommunicator(
        ThreadedWSGIHandler(_echo_environ, threads=2),
        "POST",
        "/echo?x=1",
        body=b"Zo\xc3\xab",
        headers=[(b"cookie", b"session=abc")],
    )

    response = await communicator.get_response(timeout=5)

    assert response["status"] == 200
    assert (b"content-type", b"text/plain; charset=utf-8") in response["headers"]
    assert response["body"].decode("utf-8").splitlines() == [
        "PATH_INFO=/echo",
        "QUERY_STRING=x=1",
        "HTTP_COOKIE=session=abc",
        "HTTP_ACCEPT=None",
        "REMOTE_ADDR=",
        "body=Zoë",
    ]


class _Streamed:
    """What Django's StreamingHttpResponse looks like to a WSGI server."""

    streaming = True

    def __init__(self, pieces: list[bytes], threads: list[str]) -> None:
        self.pieces = pieces
        self.threads = threads
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            self.threads.append(threading.current_thread().name)
            yield piece

    def close(self) -> None:
        self.threads.append(threading.current_thread().name)
        self.closed = True


async def test_a_streaming_response_is_sent_piece_by_piece_from_one_thread() -> None:
    threads: list[str] = []
    streamed = _Streamed([b"one,", b"two,", b"three"], threads)

    def application(environ: dict[str, Any], start_response: StartResponse) -> _Streamed:
        start_response("200 OK", [("Content-Type", "text/csv")])
        return streamed

    communicator = HttpCommunicator(ThreadedWSGIHandler(application, threads=4), "GET", "/")
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(5)
    bodies = [await communicator.receive_output(5) for _ in range(4)]
    await communicator.wait(timeout=5)

    assert start["status"] == 200
    assert [body["body"] for body in bodies] == [b"one,", b"two,", b"three", b""]
    assert [body.get("more_body", False) for body in bodies] == [True, True, True, False]
    assert streamed.closed
    assert len(set(threads)) == 1


async def test_async_to_sync_in_a_view_runs_on_the_servers_event_loop() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def note_loop() -> None:
        loops.append(asyncio.get_running_loop())

    def application(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        async_to_sync(note_loop)()
        start_response("204 No Content", [])
        return [b""]

    communicator = HttpCommunicator(ThreadedWSGIHandler(application, threads=2), "GET", "/")
    response = await communicator.get_response(timeout=5)

    assert response["status"] == 204
    assert loops == [asyncio.get_running_loop()]


async def test_a_client_gone_before_its_body_arrived_gets_nothing() -> None:
    called: list[bool] = []

    def application(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        called.append(True)
        start_response("200 OK", [])
        return [b""]

    communicator = ApplicationCommunicator(
        ThreadedWSGIHandler(application, threads=1), _scope(method="POST")
    )
    await communicator.send_input({"type": "http.request", "body": b"{", "more_body": True})
    await communicator.send_input({"type": "http.disconnect"})
    await communicator.wait(timeout=5)

    assert called == []
    with pytest.raises(asyncio.TimeoutError):
        await communicator.receive_output(0.2)
