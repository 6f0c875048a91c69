"""`AgoraClient`: REST with self-refreshing tokens, and one `/ws/v1/` socket that reconnects,
resumes its rooms and retries unacknowledged frames by themselves.

Everything runs on the caller's event loop. One task (`_run`) owns the socket: it fetches a
ticket, connects, re-subscribes every room with `since` = the room's last event id, re-sends
the frames not yet acked (with their original `msg_id`, which the server de-duplicates), then
reads until the socket closes, and decides from the close code whether and when to go again.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import inspect
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from agora_client.errors import (
    AckTimeout,
    ApiError,
    AuthenticationError,
    ClientClosed,
    ConnectionLost,
    FrameError,
    NetworkError,
    QueueFull,
    UploadError,
)
from agora_client.http import Response, http_request
from agora_client.pacing import FramePacer, full_jitter
from agora_client.rooms import Event, Handler, PresenceChange, Resumed, Room
from agora_client.uploads import (
    MAX_CHUNK_BYTES,
    UploadProgress,
    UploadSource,
    chunk_frame,
    load_source,
    sha256_hex,
)

logger = logging.getLogger("agora_client")

# Close codes (docs/websocket.md): never reconnect after these two; refresh first after 4401.
CLOSE_BAD_FRAME = 4400
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
FATAL_CLOSE_CODES = frozenset({CLOSE_BAD_FRAME, CLOSE_FORBIDDEN_ORIGIN})
# Error codes after which a failed re-subscribe is tried again on the same connection.
TRANSIENT_ERRORS = frozenset({"service_unavailable", "rate_limited"})
RETRY_SUBSCRIBE_SECONDS = 1.0
# Frame types the client manages itself: they belong to one connection, so they are never
# replayed with their original msg_id (the server would answer `duplicate` and not redo them).
MANAGED_TYPES = frozenset({"subscribe", "unsubscribe", "resume", "typing", "upload.begin"})
TYPING_INTERVAL_SECONDS = 1.0
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
# A refused chunk makes an upload ask the server where it stands (`upload.begin` again), after
# a pause that lets the answers to the chunks still in flight arrive; at most this often.
MAX_UPLOAD_RESYNCS = 5
RESYNC_PAUSE_SECONDS = 0.5

_DEFAULT: Any = object()


@dataclass
class _Pending:
    """A frame sent with `send()`: kept (and re-sent after a reconnect) until answered."""

    frame: dict[str, Any]
    future: asyncio.Future[dict[str, Any]]
    timer: asyncio.TimerHandle | None = None


@dataclass
class _Connection:
    """One open socket and what belongs to it alone."""

    number: int
    socket: ClientConnection
    wire: asyncio.Queue[str | bytes] = field(default_factory=asyncio.Queue)
    waiters: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)


class AgoraClient:
    """A client of one Agora server. Use it as `async with AgoraClient(url) as client:`.

    REST: `login`, `request` (refreshes the access token shortly before it expires, and once
    more on a 401), `ws_ticket`. Socket: `connect`/`close`, `subscribe`/`unsubscribe`,
    `send` (a future resolved by the ack), `typing`, `online`, `upload`, and the callbacks
    `on_presence`, `on_typing`, `on_resumed`, `on_gap`, `on_state`, `on_error`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        access_token: str | None = None,
        refresh_token: str | None = None,
        expires_in: float | None = None,
        refresh_margin: float = 30.0,
        http_timeout: float = 30.0,
        ack_timeout: float | None = 30.0,
        queue_limit: int = 1000,
        reconnect_base: float = 0.5,
        reconnect_max: float = 30.0,
        stable_after: float = 30.0,
        open_timeout: float = 10.0,
        frame_rate: float = 18.0,
        frame_burst: int = 40,
        origin: str | None = None,
        on_tokens: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https"):
            raise ValueError("base_url must be an http:// or https:// URL")
        self.base_url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        ws_scheme = "wss" if parts.scheme == "https" else "ws"
        self.ws_url = urlunsplit((ws_scheme, parts.netloc, parts.path + "/ws/v1/", "", ""))
        self.refresh_margin = refresh_margin
        self.http_timeout = http_timeout
        self.ack_timeout = ack_timeout
        self.queue_limit = queue_limit
        self.reconnect_base = reconnect_base
        self.reconnect_max = reconnect_max
        self.stable_after = stable_after
        self.open_timeout = open_timeout
        self.origin = origin
        self._frame_rate = frame_rate
        self._frame_burst = frame_burst
        self._on_tokens = on_tokens
        # Tokens.
        self._access: str | None = None
        self._refresh_token: str | None = None
        self._expires_at = float("inf")
        self._lifetime = float("inf")
        self._refresh_lock: asyncio.Lock | None = None
        if access_token:
            self.set_tokens(access_token, refresh_token, expires_in)
        # Socket.
        self.state = "idle"
        self.connections = 0  # sockets opened so far
        self.close_code: int | None = None
        self.reason: BaseException | None = None
        self._runner: asyncio.Task[None] | None = None
        self._connection: _Connection | None = None
        self._connected: asyncio.Event | None = None
        self._stopping = False
        self._rooms: dict[str, Room] = {}
        self._pending: dict[str, _Pending] = {}
        self._uploads: dict[str, UploadProgress] = {}
        # Event handlers by room (None: every room), each with its event name (None: all).
        self._handlers: dict[str | None, list[tuple[str | None, Handler]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._callbacks: dict[str, list[Callable[..., Any]]] = {
            "presence": [],
            "typing": [],
            "resumed": [],
            "gap": [],
            "state": [],
            "error": [],
        }

    async def __aenter__(self) -> AgoraClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- tokens and REST ---------------------------------------------------------------------
    @property
    def access_token(self) -> str | None:
        return self._access

    @property
    def refresh_token(self) -> str | None:
        return self._refresh_token

    @property
    def user_id(self) -> str | None:
        """The signed-in user's id (the access token's `sub`; read, not verified)."""
        claims = _jwt_claims(self._access) if self._access else {}
        sub = claims.get("sub")
        return str(sub) if sub is not None else None

    def set_tokens(
        self, access_token: str, refresh_token: str | None, expires_in: float | None = None
    ) -> None:
        """Use a token pair obtained elsewhere (e.g. stored by the app from `on_tokens`)."""
        self._access = access_token
        self._refresh_token = refresh_token
        if expires_in is None:
            exp = _jwt_claims(access_token).get("exp")
            expires_in = float(exp) - time.time() if isinstance(exp, int | float) else None
        now = time.monotonic()
        self._lifetime = float(expires_in) if expires_in is not None else float("inf")
        self._expires_at = now + self._lifetime

    def _store_tokens(self, body: dict[str, Any]) -> None:
        self.set_tokens(body["access_token"], body.get("refresh_token"), body.get("expires_in"))
        if self._on_tokens is not None:
            self._on_tokens(dict(body))

    def _clear_tokens(self) -> None:
        self._access = None
        self._refresh_token = None
        self._expires_at = float("inf")

    async def login(self, username_or_email: str, password: str) -> dict[str, Any]:
        """Password grant; returns the token response. `username` may be the email."""
        body = await self.request(
            "POST",
            "auth/token",
            json={"grant_type": "password", "username": username_or_email, "password": password},
            auth=False,
        )
        self._store_tokens(body)
        return body

    async def logout(self) -> None:
        """End this login on the server (its refresh token dies) and close the socket."""
        refresh = self._refresh_token
        await self.close()
        if refresh:
            with contextlib.suppress(ApiError):
                await self.request("POST", "auth/logout", json={"refresh_token": refresh})
        self._clear_tokens()

    async def refresh(self) -> None:
        """Trade the refresh token for a new pair now."""
        await self._refresh(self._access)

    async def _refresh(self, stale: str | None) -> None:
        """Refresh once for everyone holding the `stale` access token: a refresh token works
        once, and presenting it twice is treated by the server as theft (it ends the login)."""
        if self._refresh_lock is None:
            self._refresh_lock = asyncio.Lock()
        async with self._refresh_lock:
            if self._access is not None and self._access != stale:
                return
            if not self._refresh_token:
                raise AuthenticationError(401, "not_authenticated", "Log in first.")
            answer = await http_request(
                "POST",
                self._url("auth/token/refresh"),
                json_body={"refresh_token": self._refresh_token},
                timeout=self.http_timeout,
            )
            if answer.status in (400, 401, 403):
                self._clear_tokens()
                error = ApiError.from_response(answer.status, answer.headers, answer.body)
                raise AuthenticationError(
                    error.status, error.code, error.message, request_id=error.request_id
                )
            if answer.status >= 300:
                raise ApiError.from_response(answer.status, answer.headers, answer.body)
            self._store_tokens(answer.json())

    async def _fresh_access_token(self) -> str:
        if not self._access:
            raise AuthenticationError(401, "not_authenticated", "Log in first.")
        margin = min(self.refresh_margin, self._lifetime / 2)
        if self._refresh_token and time.monotonic() >= self._expires_at - margin:
            await self._refresh(self._access)
        if not self._access:
            raise AuthenticationError(401, "not_authenticated", "Log in first.")
        return self._access

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
    ) -> Any:
        """Call the REST API and return the decoded JSON body (None when empty).

        `path` is relative to `/api/v1/` unless it starts with `/`. Raises `ApiError` for a
        status >= 400 (`AuthenticationError` when no valid login is left), `NetworkError`
        when the server cannot be reached.
        """
        answer = await self.request_raw(
            method, path, json=json, params=params, headers=headers, auth=auth
        )
        if answer.status >= 400:
            error = ApiError.from_response(answer.status, answer.headers, answer.body)
            if answer.status == 401 and auth:
                raise AuthenticationError(
                    error.status, error.code, error.message, request_id=error.request_id
                )
            raise error
        return answer.json()

    async def request_raw(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
    ) -> Response:
        """As `request`, but any status comes back as a `Response`."""
        url = self._url(path, params)
        for attempt in range(2):
            sent_headers = dict(headers or {})
            token = None
            if auth:
                token = await self._fresh_access_token()
                sent_headers["Authorization"] = f"Bearer {token}"
            answer = await http_request(
                method, url, json_body=json, headers=sent_headers, timeout=self.http_timeout
            )
            if answer.status == 401 and auth and attempt == 0 and self._refresh_token:
                # Expired early, or revoked: one refresh, one retry (a 401 did nothing).
                await self._refresh(token)
                continue
            return answer
        return answer

    def _url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        url = self.base_url + (path if path.startswith("/") else "/api/v1/" + path)
        if params:
            url += "?" + urlencode(params, doseq=True)
        return url

    async def ws_ticket(self) -> str:
        """A one-time ticket for the socket's handshake (valid 30 s, works once)."""
        body = await self.request("POST", "auth/ws-ticket")
        return str(body["ticket"])

    # -- callbacks ---------------------------------------------------------------------------
    def on_presence(self, callback: Callable[[PresenceChange], Any]) -> Callable[[], None]:
        """`callback(change)` after every presence frame (full list first, then diffs)."""
        return self._register("presence", callback)

    def on_typing(self, callback: Callable[[str, dict[str, Any]], Any]) -> Callable[[], None]:
        """`callback(room, user)` when another user types in a subscribed post room."""
        return self._register("typing", callback)

    def on_resumed(self, callback: Callable[[Resumed], Any]) -> Callable[[], None]:
        """`callback(resumed)` when a room's replay after a reconnect finished."""
        return self._register("resumed", callback)

    def on_gap(self, callback: Callable[[str], Any]) -> Callable[[], None]:
        """`callback(room)` when a resume could not replay everything (`complete: false`):
        events may be missing, reload the room's state over REST."""
        return self._register("gap", callback)

    def on_state(self, callback: Callable[[str], Any]) -> Callable[[], None]:
        """`callback(state)`: connecting, connected, reconnecting, closed."""
        return self._register("state", callback)

    def on_error(self, callback: Callable[[dict[str, Any]], Any]) -> Callable[[], None]:
        """`callback(frame)` for error frames no pending frame claims (e.g. rate_limited)."""
        return self._register("error", callback)

    def add_handler(
        self, handler: Handler, *, room: str | None = None, event: str | None = None
    ) -> Callable[[], None]:
        """Call `handler(event)` for the events of `room` (any room when None) named `event`
        (any name when None). Returns a function that removes it."""
        entry = (event, handler)
        handlers = self._handlers.setdefault(room, [])
        handlers.append(entry)
        return lambda: _discard(handlers, entry)

    def _register(self, kind: str, callback: Callable[..., Any]) -> Callable[[], None]:
        callbacks = self._callbacks[kind]
        callbacks.append(callback)
        return lambda: _discard(callbacks, callback)

    async def _emit(self, kind: str, *args: Any) -> None:
        for callback in list(self._callbacks[kind]):
            await _call(callback, *args)

    # -- connection lifecycle ----------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connection is not None

    async def connect(self) -> None:
        """Open the socket (and keep it open until `close()`); returns once it is connected.
        Network failures are retried with backoff; a refusal that retrying cannot fix (bad
        login, forbidden origin) raises `ClientClosed`."""
        if self._runner is None or self._runner.done():
            self._stopping = False
            self.reason = None
            self.close_code = None
            self._connected = asyncio.Event()
            self._runner = asyncio.create_task(self._run(), name="agora-client-socket")
        await self.wait_connected()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until the socket is open (raises `ClientClosed` if the client stopped)."""
        if self._runner is None or self._connected is None:
            raise ClientClosed("not started: call connect()")
        async with asyncio.timeout(timeout):
            while self._connection is None and not self._runner.done():
                waiting = asyncio.ensure_future(self._connected.wait())
                try:
                    await asyncio.wait({waiting, self._runner}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiting.cancel()
        if self._connection is None:
            raise self._closed_error()

    def _closed_error(self) -> ClientClosed:
        if self.reason is not None:
            return ClientClosed(
                f"the client gave up: {self.reason}", code=self.close_code, reason=self.reason
            )
        return ClientClosed("the client is closed", code=self.close_code)

    async def close(self) -> None:
        """Close the socket and stop reconnecting; frames still waiting for an ack fail."""
        self._stopping = True
        connection = self._connection
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.socket.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(BaseException):
                await self._runner
        self._fail_everything(ClientClosed("the client was closed", code=self.close_code))
        await self._set_state("closed")

    async def reconnect(self) -> None:
        """Drop the socket now; the client reconnects and resumes as after any drop (for a
        network change the application knows of)."""
        connection = self._connection
        if connection is not None:
            await connection.socket.close(code=4000, reason="client reconnects")

    async def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            await self._emit("state", state)

    async def _run(self) -> None:
        attempt = 0
        try:
            while not self._stopping:
                await self._set_state("connecting" if self.connections == 0 else "reconnecting")
                try:
                    socket = await self._open()
                except AuthenticationError as error:
                    return await self._give_up(error, None)
                except InvalidStatus as error:
                    if error.response.status_code in (401, 403):
                        return await self._give_up(error, None)
                    logger.info("agora socket handshake refused: %s", error)
                except (NetworkError, ApiError, OSError, InvalidHandshake, TimeoutError) as error:
                    logger.info("agora socket not connected: %s", error)
                else:
                    opened = time.monotonic()
                    code = await self._session(socket)
                    self.close_code = code
                    if self._stopping:
                        return None
                    if time.monotonic() - opened >= self.stable_after:
                        attempt = 0
                    if code in FATAL_CLOSE_CODES:
                        return await self._give_up(ConnectionLost(code), code)
                    if code == CLOSE_NOT_AUTHENTICATED:
                        try:
                            await self._refresh(self._access)
                        except AuthenticationError as error:
                            return await self._give_up(error, code)
                        except (NetworkError, ApiError) as error:
                            logger.info("agora token refresh failed, retrying: %s", error)
                    await self._set_state("reconnecting")
                await asyncio.sleep(
                    full_jitter(attempt, base=self.reconnect_base, cap=self.reconnect_max)
                )
                attempt += 1
        finally:
            if self._stopping or self.reason is not None:
                self._fail_everything(self._closed_error())

    async def _give_up(self, reason: BaseException, code: int | None) -> None:
        logger.warning("agora socket stopped reconnecting: %s", reason)
        self.reason = reason
        self.close_code = code
        self._stopping = True
        self._fail_everything(self._closed_error())
        await self._set_state("closed")

    async def _open(self) -> ClientConnection:
        """A new socket, authenticated with a new ticket (a ticket works once)."""
        ticket = await self.ws_ticket()
        url = f"{self.ws_url}?ticket={quote(ticket)}"
        return await ws_connect(
            url,
            origin=self.origin,  # type: ignore[arg-type]
            open_timeout=self.open_timeout,
            max_size=MAX_MESSAGE_BYTES,
            user_agent_header="agora-client-python/0.1",
        )

    async def _session(self, socket: ClientConnection) -> int:
        """Use one open socket until it closes; returns its close code."""
        self.connections += 1
        connection = _Connection(self.connections, socket)
        writer = asyncio.create_task(self._write(connection), name="agora-client-writer")
        self._connection = connection
        # Rooms first, so the queued frames that follow find them joined.
        self._resubscribe_all(connection)
        for pending in self._pending.values():
            connection.wire.put_nowait(_encode(pending.frame))
        if self._connected is not None:
            self._connected.set()
        await self._set_state("connected")
        try:
            async for message in socket:
                if isinstance(message, str):
                    try:
                        await self._dispatch(connection, message)
                    except Exception:
                        # A frame this client does not understand must not end the socket.
                        logger.exception("agora frame not handled: %.200s", message)
        except ConnectionClosed:
            pass
        finally:
            if self._connected is not None:
                self._connected.clear()
            self._connection = None
            writer.cancel()
            code = socket.close_code or 1006
            await self._connection_ended(connection, code)
        return code

    async def _write(self, connection: _Connection) -> None:
        """The one writer of a socket: frames keep their order and the server's frame rate."""
        pacer = FramePacer(self._frame_rate, self._frame_burst)
        try:
            while True:
                message = await connection.wire.get()
                await pacer.acquire()
                await connection.socket.send(message)
        except ConnectionClosed:
            return

    async def _connection_ended(self, connection: _Connection, code: int) -> None:
        lost = ConnectionLost(code)
        for future in list(connection.waiters.values()):
            if not future.done():
                future.set_exception(lost)
        for progress in self._uploads.values():
            progress.connection_lost()
        for room in self._rooms.values():
            room.in_flight = False
            room.live_on = None
            # Received but held for ordering: they are real events, deliver them now.
            await self._release_held(room)

    def _fail_everything(self, error: BaseException) -> None:
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.future.set_exception(error)
        self._pending.clear()
        for room in self._rooms.values():
            for waiter in room.waiters:
                if not waiter.done():
                    waiter.set_exception(error)
            room.waiters.clear()
        for progress in self._uploads.values():
            progress.connection_lost()

    # -- frames out --------------------------------------------------------------------------
    def send(
        self,
        frame: Mapping[str, Any],
        *,
        msg_id: str | int | None = None,
        timeout: float | None = _DEFAULT,
    ) -> asyncio.Future[dict[str, Any]]:
        """Send a frame with a `msg_id` (a new uuid4 hex unless given) and return a future:
        its ack frame (`{"type": "ack", "msg_id": …, "duplicate"?: true, …}`), or `FrameError`
        for an error frame with that msg_id, or `AckTimeout` after `timeout` seconds.

        While disconnected the frame waits in the queue (at most `queue_limit` frames); it is
        sent after the reconnect, and so is every frame sent before a drop but not acked yet,
        with its original msg_id: the server acks a repeated msg_id as `duplicate` without
        doing it again, so the retry is safe.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        body = dict(frame)
        if body.get("type") in MANAGED_TYPES:
            raise ValueError(f"use the client's own method for {body['type']!r} frames")
        if msg_id is None:
            msg_id = body.get("msg_id") or new_msg_id()
        body["msg_id"] = msg_id
        key = str(msg_id)
        if key in self._pending:
            raise ValueError(f"msg_id {msg_id!r} is still waiting for its ack")
        if self._stopping:
            future.set_exception(self._closed_error())
            return future
        if len(self._pending) >= self.queue_limit:
            future.set_exception(QueueFull(f"{self.queue_limit} frames are waiting for an ack"))
            return future
        pending = _Pending(body, future)
        self._pending[key] = pending
        timeout = self.ack_timeout if timeout is _DEFAULT else timeout
        if timeout is not None:
            pending.timer = loop.call_later(timeout, _expire, future, msg_id)
        future.add_done_callback(lambda _: self._forget(key, pending))
        if self._connection is not None:
            self._connection.wire.put_nowait(_encode(body))
        return future

    def _forget(self, key: str, pending: _Pending) -> None:
        if self._pending.get(key) is pending:
            del self._pending[key]
        if pending.timer is not None:
            pending.timer.cancel()

    def _request(
        self, frame: dict[str, Any], *, timeout: float | None = _DEFAULT
    ) -> asyncio.Future[dict[str, Any]]:
        """A frame for the current socket only (a new msg_id; `ConnectionLost` on a drop)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        connection = self._connection
        if connection is None:
            future.set_exception(ConnectionLost(self.close_code))
            return future
        msg_id = new_msg_id()
        connection.waiters[msg_id] = future
        timeout = self.ack_timeout if timeout is _DEFAULT else timeout
        timer = loop.call_later(timeout, _expire, future, msg_id) if timeout is not None else None

        def done(_: object) -> None:
            connection.waiters.pop(msg_id, None)
            if timer is not None:
                timer.cancel()

        future.add_done_callback(done)
        connection.wire.put_nowait(_encode({**frame, "msg_id": msg_id}))
        return future

    async def ping(self, *, timeout: float | None = _DEFAULT) -> dict[str, Any]:
        """A round trip on the current socket (its ack: everything sent before was handled)."""
        return await self._request({"type": "ping"}, timeout=timeout)

    # -- rooms -------------------------------------------------------------------------------
    def _room(self, name: str) -> Room:
        room = self._rooms.get(name)
        if room is None:
            room = self._rooms[name] = Room(name, automatic=name == self._own_room())
        return room

    def _own_room(self) -> str | None:
        user_id = self.user_id
        return f"user:{user_id}" if user_id else None

    @property
    def rooms(self) -> list[str]:
        """The rooms the client is in, or will re-enter on reconnect."""
        return list(self._rooms)

    def subscribe(
        self, room: str, handler: Handler | None = None, *, event: str | None = None
    ) -> asyncio.Future[dict[str, Any]]:
        """Join `room` (now, or as soon as connected) and stay in it across reconnects;
        `handler(event)` gets its events (only those named `event` when given). The future
        is resolved by the ack, or fails with `FrameError` (e.g. `forbidden`)."""
        state = self._room(room)
        if handler is not None:
            self.add_handler(handler, room=room, event=event)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        connection = self._connection
        if state.automatic or (connection is not None and state.live_on == connection.number):
            future.set_result({"type": "ack", "room": room})
            return future
        state.waiters.append(future)
        if connection is not None and not state.in_flight:
            self._send_subscribe(connection, state, resume=False)
        return future

    def unsubscribe(self, room: str) -> asyncio.Future[dict[str, Any]]:
        """Leave `room` and drop its handlers and state."""
        state = self._rooms.pop(room, None)
        self._handlers.pop(room, None)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if state is not None:
            for waiter in state.waiters:
                if not waiter.done():
                    waiter.cancel()
        if state is None or self._connection is None or state.automatic:
            future.set_result({"type": "ack", "room": room})
            return future
        return self._request({"type": "unsubscribe", "room": room})

    def _resubscribe_all(self, connection: _Connection) -> None:
        own = self._own_room()
        if own is not None:
            self._room(own)
        for state in self._rooms.values():
            self._send_subscribe(connection, state, resume=True)

    def _send_subscribe(self, connection: _Connection, state: Room, *, resume: bool) -> None:
        """`subscribe` (with `since` after a reconnect: the server replays what the room missed,
        then `resumed`). The user's own room is joined by the server, so it is only resumed,
        and only once an earlier connection of this client was in it."""
        frame: dict[str, Any] = {"type": "subscribe", "room": state.name}
        if resume and connection.number > 1 and (since := state.since()):
            frame["since"] = since
            state.held = []
        elif state.automatic:
            state.live_on = connection.number
            return
        state.in_flight = True
        future = self._request(frame)
        future.add_done_callback(
            lambda done: self._spawn(self._subscribed(connection, state, done))
        )

    def _spawn(self, work: Any) -> None:
        """Run `work` as a task the client holds on to (the loop keeps only weak references)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _subscribed(
        self, connection: _Connection, state: Room, future: asyncio.Future[dict[str, Any]]
    ) -> None:
        state.in_flight = False
        if self._rooms.get(state.name) is not state or future.cancelled():
            return
        error = future.exception()
        if isinstance(error, ConnectionLost) or connection is not self._connection:
            return  # the next connection subscribes again
        if error is None:
            state.mark_live(connection.number)
            ack = future.result()
            for waiter in state.waiters:
                if not waiter.done():
                    waiter.set_result(ack)
            state.waiters.clear()
            return
        await self._release_held(state)
        if isinstance(error, FrameError) and error.code in TRANSIENT_ERRORS:
            await asyncio.sleep(RETRY_SUBSCRIBE_SECONDS)
            if connection is self._connection and self._rooms.get(state.name) is state:
                self._send_subscribe(connection, state, resume=True)
            return
        # Refused for good (forbidden, not_found): the room is dropped.
        self._rooms.pop(state.name, None)
        for waiter in state.waiters:
            if not waiter.done():
                waiter.set_exception(error)
        state.waiters.clear()
        if isinstance(error, FrameError):
            await self._emit("error", error.frame)

    def online(self, room: str) -> list[dict[str, Any]]:
        """Who is in `room` now (`{"id", "username"}`), from its presence frames."""
        state = self._rooms.get(room)
        return list(state.online.values()) if state else []

    def resumed(self, room: str) -> Resumed | None:
        """The room's last `resumed` answer (None until a reconnect resumed it)."""
        state = self._rooms.get(room)
        return state.resumed if state else None

    def typing(self, room: str) -> asyncio.Future[dict[str, Any]] | None:
        """Tell the room's other members this user types; at most once a second per room
        (the server drops more anyway). Returns the ack future, or None when throttled or
        not connected (typing is not worth queueing)."""
        state = self._rooms.get(room)
        now = time.monotonic()
        if state is None or self._connection is None:
            return None
        if now - state.last_typing < TYPING_INTERVAL_SECONDS:
            return None
        state.last_typing = now
        future = self._request({"type": "typing", "room": room})
        future.add_done_callback(_consume)
        return future

    # -- frames in ---------------------------------------------------------------------------
    async def _dispatch(self, connection: _Connection, message: str) -> None:
        try:
            frame = json.loads(message)
        except ValueError:
            logger.warning("agora sent a frame that is not JSON")
            return
        if not isinstance(frame, dict):
            return
        kind = frame.get("type")
        if kind == "event":
            await self._on_event(frame)
        elif kind == "ack":
            self._settle(connection, frame, None)
        elif kind == "error":
            await self._on_error_frame(connection, frame)
        elif kind == "presence":
            state = self._rooms.get(str(frame.get("room")))
            if state is not None:
                await self._emit("presence", state.apply_presence(frame))
        elif kind == "typing":
            if str(frame.get("room")) in self._rooms:
                await self._emit("typing", frame["room"], frame.get("user") or {})
        elif kind == "resumed":
            await self._on_resumed(frame)
        elif kind in ("upload.progress", "upload.done"):
            progress = self._uploads.get(str(frame.get("upload_id") or _upload_id(frame)))
            if progress is not None:
                progress.update(frame)

    def _settle(
        self, connection: _Connection, frame: dict[str, Any], error: BaseException | None
    ) -> bool:
        key = str(frame.get("msg_id"))
        future = connection.waiters.get(key)
        if future is None:
            pending = self._pending.get(key)
            future = pending.future if pending else None
        if future is None or future.done():
            return False
        if error is None:
            future.set_result(frame)
        else:
            future.set_exception(error)
        return True

    async def _on_error_frame(self, connection: _Connection, frame: dict[str, Any]) -> None:
        if "msg_id" in frame and self._settle(connection, frame, FrameError(frame)):
            return
        progress = self._uploads.get(str(frame.get("upload_id")))
        if progress is not None:
            progress.update(frame)
            return
        await self._emit("error", frame)

    async def _on_event(self, frame: dict[str, Any]) -> None:
        try:
            event = Event.from_frame(frame)
        except (KeyError, TypeError):
            return
        state = self._rooms.get(event.room)
        if state is None:
            if event.room != self._own_room():
                return  # a room just left
            state = self._room(event.room)
        if state.held is not None:
            state.held.append(event)
            return
        await self._deliver(state, event)

    async def _deliver(self, state: Room, event: Event) -> None:
        if not state.accept(event):
            return
        for room in (event.room, None):
            for name, handler in list(self._handlers.get(room, ())):
                if name is None or name == event.event:
                    await _call(handler, event)

    async def _on_resumed(self, frame: dict[str, Any]) -> None:
        state = self._rooms.get(str(frame.get("room")))
        if state is None:
            return
        state.resumed = Resumed(
            state.name, int(frame.get("count", 0)), bool(frame.get("complete", False))
        )
        await self._release_held(state)
        await self._emit("resumed", state.resumed)
        if not state.resumed.complete:
            await self._emit("gap", state.name)

    async def _release_held(self, state: Room) -> None:
        """The replay (and the live events around it) in id order, each once."""
        held, state.held = state.held, None
        for event in sorted(held or (), key=lambda e: e.id):
            await self._deliver(state, event)

    # -- uploads -----------------------------------------------------------------------------
    async def upload(
        self,
        source: UploadSource,
        name: str,
        content_type: str,
        *,
        on_progress: Callable[[int, int], Any] | None = None,
        chunk_size: int = MAX_CHUNK_BYTES,
        window: int = 8,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        """Upload bytes or a file over the socket; returns the Upload object.

        Sends `upload.begin` (name, size, content_type, sha256), then binary chunks from
        where the server stands, at most `window` chunks ahead of its `upload.progress`.
        After a reconnect it sends `upload.begin` again with the `upload_id` and continues
        from the `received` offset it answers. `on_progress(received, size)` follows the
        server's count. Raises `UploadError` when the server refuses the upload.
        """
        if not 0 < chunk_size <= MAX_CHUNK_BYTES:
            raise ValueError(f"chunk_size must be 1..{MAX_CHUNK_BYTES}")
        data = await load_source(source)
        progress = UploadProgress(len(data))
        begin: dict[str, Any] = {
            "type": "upload.begin",
            "name": name,
            "size": len(data),
            "content_type": content_type,
            "sha256": sha256_hex(data),
        }
        sender = _ChunkSender(data, chunk_size, window, on_progress)
        resyncs = 0
        try:
            while True:
                await self.wait_connected()
                connection = self._connection
                if connection is None:
                    continue
                progress.lost = False
                progress.error = None
                try:
                    ack = await self._request(begin, timeout=timeout)
                except ConnectionLost:
                    continue
                except FrameError as error:
                    raise UploadError(error.code, error.message) from error
                if "upload_id" not in begin:
                    begin["upload_id"] = str(ack["upload_id"])
                    self._uploads[begin["upload_id"]] = progress
                progress.received = int(ack.get("received", 0))
                result = await self._upload_on(
                    connection, begin["upload_id"], progress, sender, timeout
                )
                if result is not None:
                    await sender.report(len(data), len(data))
                    return result
                if not progress.lost:
                    # A chunk the server could not take: ask where it stands and go on.
                    resyncs += 1
                    if resyncs > MAX_UPLOAD_RESYNCS:
                        raise UploadError("resync", "the server kept refusing chunks")
                    await asyncio.sleep(RESYNC_PAUSE_SECONDS)
        finally:
            if "upload_id" in begin:
                self._uploads.pop(begin["upload_id"], None)

    async def _upload_on(
        self,
        connection: _Connection,
        upload_id: str,
        progress: UploadProgress,
        sender: _ChunkSender,
        timeout: float,
    ) -> dict[str, Any] | None:
        """Send chunks on one socket from where the server stands: the Upload when done, None
        when it must begin again (socket lost, or a chunk refused in passing)."""
        offset = progress.received
        while progress.result is None:
            if progress.error is not None:
                if not _resumable(progress.error):
                    raise UploadError(
                        str(progress.error.get("code")), str(progress.error.get("message"))
                    )
                return None
            if progress.lost or connection is not self._connection:
                return None
            await sender.report(progress.received, progress.size)
            offset = sender.send(connection, upload_id, offset, progress.received)
            if offset >= progress.size and progress.received >= progress.size:
                return await self._finished_upload(upload_id, progress, timeout)
            try:
                await progress.wait(timeout)
            except TimeoutError as error:
                raise UploadError("timeout", "the server stopped answering") from error
        return progress.result

    async def _finished_upload(
        self, upload_id: str, progress: UploadProgress, timeout: float
    ) -> dict[str, Any]:
        """Every byte arrived but `upload.done` did not (lost with a connection): wait a
        moment for it, then read the Upload (its id is the upload id) over REST."""
        with contextlib.suppress(TimeoutError):
            await progress.wait(min(timeout, 5.0))
        if progress.result is None:
            progress.result = await self.request("GET", f"uploads/{upload_id}")
        return progress.result


@dataclass
class _ChunkSender:
    """The bytes of one upload, cut into chunk frames, at most `window` chunks ahead."""

    data: bytes
    chunk_size: int
    window: int
    on_progress: Callable[[int, int], Any] | None
    reported: int = -1

    def send(self, connection: _Connection, upload_id: str, offset: int, received: int) -> int:
        """Queue the chunks from `offset` the window allows; returns the next offset."""
        while offset < len(self.data) and offset - received < self.window * self.chunk_size:
            piece = self.data[offset : offset + self.chunk_size]
            connection.wire.put_nowait(chunk_frame(upload_id, offset, piece))
            offset += len(piece)
        return offset

    async def report(self, received: int, size: int) -> None:
        if self.on_progress is not None and received != self.reported:
            self.reported = received
            await _call(self.on_progress, received, size)


def _resumable(error: dict[str, Any]) -> bool:
    """A chunk refused for a passing reason (the server's storage, or an offset after a chunk
    it missed): beginning again says where to go on from."""
    details = error.get("details")
    return error.get("code") == "service_unavailable" or (
        error.get("code") == "validation_error"
        and isinstance(details, dict)
        and "offset" in details
    )


def new_msg_id() -> str:
    return uuid.uuid4().hex


def _encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def _expire(future: asyncio.Future[Any], msg_id: str | int) -> None:
    if not future.done():
        future.set_exception(AckTimeout(msg_id))


def _consume(future: asyncio.Future[Any]) -> None:
    """Mark a fire-and-forget future's error as seen (no "never retrieved" warning)."""
    if not future.cancelled():
        future.exception()


def _discard(items: list[Any], item: Any) -> None:
    with contextlib.suppress(ValueError):
        items.remove(item)


def _upload_id(frame: dict[str, Any]) -> str | None:
    upload = frame.get("upload")
    return str(upload["id"]) if isinstance(upload, dict) and "id" in upload else None


async def _call(callback: Callable[..., Any], *args: Any) -> None:
    """Run an application callback (sync or async); its failure is logged, never raised
    into the socket's reader."""
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("agora client callback %r failed", callback)


def _jwt_claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified (the server verifies; the client reads `sub` and `exp`)."""
    try:
        payload = token.split(".")[1]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(decoded)
    except (IndexError, ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}
