"""The `/ws/v1/` endpoint: one authenticated connection per client, multiplexing rooms.

A connection never touches Channels' channel layer: the process's hub (realtime.hub) hands it
the frames of its rooms. What it sends goes through one bounded queue drained by one writer
task, so frames keep their order and a client too slow to read is closed with 1013 instead of
growing the server's memory. Fan-out frames (events, presence, typing) skip that queue when
nothing is waiting in it: their bytes, encoded once per process, are written straight to the
socket (realtime.frames). docs/websocket.md is the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.utils import await_many_dispatch
from django.conf import settings

from config.core.errors import DomainError
from config.http.logs import redact_query
from realtime import protocol
from realtime.access import may_join
from realtime.auth import Credentials, offered_bearer_subprotocol
from realtime.backends.base import ALL_SESSIONS, TYPING, fanout_message
from realtime.frames import DirectWriter
from realtime.hub import Hub, current_hub, presence_frame
from realtime.origins import handshake_origin, origin_allowed
from realtime.rooms import has_presence, is_room, user_room
from realtime.selectors import unread_notifications
from realtime.uploads import UploadChunk, upload_begin, upload_chunk

logger = logging.getLogger("agora.realtime")

# How long a close may wait for a reader that stopped reading before the connection is dropped.
CLOSE_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class CloseAfterQueued:
    """Queued behind the frames already waiting (an error explaining the close, say)."""

    code: int


# The ASGI server's own `send`, put in the scope by realtime.routing before any middleware.
RAW_SEND_SCOPE_KEY = "agora.raw_send"


class FrameError(Exception):
    """A frame the server refuses with an `error` frame (the connection stays open)."""

    def __init__(self, code: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.fields = fields


class RoomState:
    """What a connection delivered of one room: for resume without duplicates or gaps.

    Live events arrive in id order, so `first_live`..`last_sent` were all delivered; while a
    resume reads the log, live events wait in `held` and go out after the replay.
    """

    __slots__ = ("first_live", "held", "last_sent")

    def __init__(self) -> None:
        self.first_live: str | None = None
        self.last_sent = ""
        self.held: list[tuple[str, str]] | None = None

    def delivered(self, event_id: str) -> bool:
        return self.first_live is not None and self.first_live <= event_id <= self.last_sent


class RealtimeConsumer(AsyncWebsocketConsumer):
    """Accepts every handshake, so a refusal can carry the contract's close code."""

    hub: Hub
    user_id: str
    member: str

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Channels' loop without the channel layer, plus a local inbox to stop from inside."""
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        self._interrupts: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        with contextlib.suppress(StopConsumer):
            await await_many_dispatch([receive, self._interrupts.get], self.dispatch)

    # -- connection lifecycle ----------------------------------------------------------------
    async def connect(self) -> None:
        """Refusals are decided and the user's room joined before the accept goes out, so an
        event sent right after a client sees its connection open is never missed."""
        self.credentials: Credentials | None = self.scope.get("credentials")
        self.rooms: dict[str, RoomState] = {}
        self._outbox: deque[str | CloseAfterQueued] = deque()
        self._outbox_limit = settings.WS_SEND_QUEUE_FRAMES
        self._wake: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        # Set while the writer awaits `send` for a frame it took off the outbox: a direct write
        # then would overtake that frame.
        self._sending = False
        self._direct: DirectWriter | None = None
        self.frames_direct = 0
        self.frames_queued = 0
        self._expiry: asyncio.TimerHandle | None = None
        self._closing = False
        self._counted = False
        self._limit = protocol.FrameRateLimit()
        origin = handshake_origin(self.scope)
        user = self.scope.get("user")
        refusal: tuple[int, dict[str, Any]] | None = None
        if not origin_allowed(origin):
            refusal = protocol.CLOSE_FORBIDDEN_ORIGIN, {"reason": "origin", "origin": origin}
        elif user is None or not user.is_authenticated:
            refusal = protocol.CLOSE_NOT_AUTHENTICATED, {"reason": "not_authenticated"}
        else:
            self.user = user
            self.user_id = str(user.pk)
            refusal = await self._register()
        await self.accept(subprotocol=offered_bearer_subprotocol(self.scope))
        if refusal is not None:
            code, fields = refusal
            self._log("ws.refused", **fields)
            self._closing = True
            await self.close(code=code)
            return
        self._direct = DirectWriter.attach(self.scope.get(RAW_SEND_SCOPE_KEY))
        self._writer = asyncio.create_task(self._write())
        self._close_when_expired()
        self._log(
            "ws.connected", user=self.user_id, auth=self._auth_method(), direct=bool(self._direct)
        )
        await self._deliver_unread_notifications()

    async def _deliver_unread_notifications(self) -> None:
        """Missed while offline: the unread ones, as the events they were (the room was
        joined first, so one created meanwhile may come twice: clients key them by id)."""
        room = user_room(self.user_id)
        try:
            unread = await database_sync_to_async(unread_notifications)(user_id=self.user_id)
        except Exception:  # noqa: BLE001 - the connection works without them
            logger.warning("unread notifications unavailable for user %s", self.user_id)
            return
        for notification in unread:
            self._send_frame(
                {
                    "type": "event",
                    "id": notification["id"],
                    "room": room,
                    "event": "notification",
                    "data": notification,
                    "request_id": None,
                }
            )

    async def _register(self) -> tuple[int, dict[str, Any]] | None:
        try:
            self.hub = await current_hub()
            self.member = self.hub.new_member()
            limit = settings.WS_MAX_CONNECTIONS_PER_USER
            if not await self.hub.backend.connection_open(self.user_id, self.member, limit):
                return protocol.CLOSE_RATE_LIMITED, {"reason": "too_many_connections"}
        except Exception:
            logger.exception("realtime state unreachable; refusing a connection")
            return protocol.CLOSE_TOO_SLOW, {"reason": "service_unavailable"}
        self._counted = True
        self.hub.add_user(self)
        self._enter(user_room(self.user_id))
        return None

    def _auth_method(self) -> str:
        return self.credentials.method if self.credentials else "session"

    def _close_when_expired(self) -> None:
        """A token-authenticated connection lives no longer than its token."""
        if self.credentials is None or self.credentials.expires_at is None:
            return
        delay = (self.credentials.expires_at - datetime.now(UTC)).total_seconds()
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(
            max(0.0, delay), lambda: self._close_soon(protocol.CLOSE_NOT_AUTHENTICATED, "expired")
        )

    def revoke(self, session_id: str) -> None:
        """The hub's `c` message: a login ended (or all of them did)."""
        own_session = self.credentials.session_id if self.credentials else None
        if session_id in (ALL_SESSIONS, own_session):
            self._close_soon(protocol.CLOSE_NOT_AUTHENTICATED, "revoked")

    async def disconnect(self, code: int) -> None:
        self._closing = True
        if self._expiry is not None:
            self._expiry.cancel()
        if self._writer is not None:
            self._writer.cancel()
        if self._counted:
            self._counted = False
            self.hub.remove_user(self)
            for room in list(self.rooms):
                await self._quietly(self._exit(room))
            await self._quietly(self.hub.backend.connection_close(self.user_id, self.member))
        self._log(
            "ws.disconnected", code=code, direct=self.frames_direct, queued=self.frames_queued
        )

    async def _quietly(self, operation: Any) -> None:
        try:
            await operation
        except Exception:  # whatever failed, the process's heartbeat cleans up after it
            logger.warning(
                "realtime cleanup failed; the process's heartbeat will retire it", exc_info=True
            )

    # -- sending -----------------------------------------------------------------------------
    def push(self, frame: str | CloseAfterQueued, wire: bytes | None = None) -> None:
        """Send a frame: written at once when it comes encoded (`wire`, a fan-out frame),
        nothing is waiting before it and the socket takes it (realtime.frames); otherwise
        queued. A full queue means the client stopped reading: close with 1013."""
        if self._closing:
            return
        direct = self._direct
        if (
            wire is not None
            and direct is not None
            and not self._outbox
            and not self._sending
            and direct.write(wire)
        ):
            self.frames_direct += 1
            return
        if len(self._outbox) >= self._outbox_limit:
            self._log(
                "ws.too_slow",
                logging.WARNING,
                user=self.user_id,
                queued=len(self._outbox),
                buffered=direct.buffered() if direct is not None else None,
            )
            self._closing = True
            asyncio.get_running_loop().create_task(self._drop(protocol.CLOSE_TOO_SLOW))
            return
        self._outbox.append(frame)
        self.frames_queued += 1
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    def push_event(self, room: str, event_id: str, frame: str, wire: bytes | None = None) -> None:
        state = self.rooms.get(room)
        if state is None or event_id <= state.last_sent:
            return
        if state.held is not None:
            state.held.append((event_id, frame))
            return
        if state.first_live is None:
            state.first_live = event_id
        state.last_sent = event_id
        self.push(frame, wire)

    async def _write(self) -> None:
        """Send what is queued, in order; the hot path of every event to every socket, so it
        calls the server's own `send` (the session middleware's wrapper has nothing to do
        after the handshake) and waits on a plain future only when the queue is empty."""
        send = self.scope.get(RAW_SEND_SCOPE_KEY, self.base_send)
        outbox = self._outbox
        loop = asyncio.get_running_loop()
        while True:
            while outbox:
                frame = outbox.popleft()
                if isinstance(frame, CloseAfterQueued):
                    await self.close(code=frame.code)
                    return
                self._sending = True
                await send({"type": "websocket.send", "text": frame})
                self._sending = False
            self._wake = loop.create_future()
            await self._wake
            self._wake = None

    def _close_soon(self, code: int, reason: str) -> None:
        """Close after what is already queued (an error frame explaining it, say)."""
        if self._closing:
            return
        self._log(f"ws.{reason}", user=self.user_id, code=code)
        if len(self._outbox) >= self._outbox_limit:
            self._closing = True
            asyncio.get_running_loop().create_task(self._drop(code))
            return
        self.push(CloseAfterQueued(code))
        self._closing = True

    async def _drop(self, code: int) -> None:
        """Close now, dropping queued frames; a reader that does not take even the close
        frame within CLOSE_WAIT_SECONDS is disconnected."""
        if self._writer is not None:
            self._writer.cancel()
        # A reader that stopped reading cannot take even the close frame: drop it regardless.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.close(code=code), CLOSE_WAIT_SECONDS)
        await self._interrupts.put({"type": "websocket.disconnect", "code": code})

    def _send_frame(self, frame: dict[str, Any]) -> None:
        self.push(protocol.encode(frame))

    # -- receiving ---------------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self._closing:
            return
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > protocol.MAX_FRAME_BYTES:
            self._closing = True
            await self._drop(protocol.CLOSE_TOO_BIG)
            return
        if not self._limit.allow():
            if self._limit.exhausted:
                self._close_soon(protocol.CLOSE_RATE_LIMITED, "rate_limited")
            else:
                self.push(protocol.error_frame("rate_limited", "Too many frames; slow down."))
            return
        if text_data is None:
            await self._on_upload_chunk(bytes_data or b"")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            self._refuse_frame("Frames must be JSON text.")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            self._refuse_frame('Frames must be JSON objects with a string "type".')
            return
        await self._handle(content)

    def _refuse_frame(self, message: str) -> None:
        self.push(protocol.error_frame("bad_frame", message))
        self._close_soon(protocol.CLOSE_BAD_FRAME, "bad_frame")

    async def _handle(self, content: dict[str, Any]) -> None:
        handler = self.HANDLERS.get(content["type"])
        msg_id = content.get("msg_id")
        echo: dict[str, Any] = {} if msg_id is None else {"msg_id": msg_id}
        if handler is None:
            self.push(
                protocol.error_frame(
                    "unknown_type", f"Unknown message type {content['type']!r}.", **echo
                )
            )
            return
        if msg_id is not None and not _valid_msg_id(msg_id):
            self.push(protocol.error_frame("invalid", "msg_id must be a short string."))
            return
        backend = self.hub.backend
        key = str(msg_id)
        if msg_id is not None:
            seen = await backend.claim_msg_id(self.user_id, key)
            if seen is not None:
                self._send_frame(
                    {"type": "ack", "msg_id": msg_id, "duplicate": True, **json.loads(seen)}
                )
                return
        try:
            extras = await handler(self, content)
        except FrameError as error:
            if msg_id is not None:
                await self._quietly(backend.release_msg_id(self.user_id, key))
            self.push(protocol.error_frame(error.code, str(error), **error.fields, **echo))
            return
        except Exception:
            # The realtime state (Redis) or the database failed: the client may retry.
            logger.exception("realtime frame %r failed", content["type"])
            if msg_id is not None:
                await self._quietly(backend.release_msg_id(self.user_id, key))
            self.push(
                protocol.error_frame(
                    "service_unavailable", "Temporarily unavailable; retry.", **echo
                )
            )
            return
        if msg_id is not None:
            await backend.store_ack(self.user_id, key, protocol.encode(extras or {}))
            self._send_frame({"type": "ack", "msg_id": msg_id, **(extras or {})})

    async def _on_ping(self, content: dict[str, Any]) -> None:
        self._send_frame({"type": "pong"})

    async def _on_subscribe(self, content: dict[str, Any]) -> dict[str, Any]:
        room = _room_of(content)
        since = _since_of(content, required=False)
        if room not in self.rooms:
            await self._authorize(room)
            state = self._enter(room)
            if since is not None:
                state.held = []
            if has_presence(room):
                await self._join_presence(room)
        if since is not None:
            await self._replay(room, since)
        return {"room": room}

    async def _on_unsubscribe(self, content: dict[str, Any]) -> dict[str, Any]:
        room = _room_of(content)
        if room == user_room(self.user_id):
            raise FrameError("invalid", "The user's own room cannot be left.", room=room)
        if room in self.rooms:
            await self._exit(room)
        return {"room": room}

    async def _on_typing(self, content: dict[str, Any]) -> dict[str, Any]:
        room = _room_of(content)
        if room not in self.rooms:
            raise FrameError("not_subscribed", "Subscribe to the room first.", room=room)
        if not has_presence(room):
            raise FrameError("invalid", "Typing is for post rooms.", room=room)
        if await self.hub.backend.typing_allowed(room, self.user_id):
            user = {"id": self.user_id, "username": self.user.username}
            frame = protocol.encode({"type": "typing", "room": room, "user": user})
            await self.hub.backend.publish(fanout_message(TYPING, room, self.user_id, frame))
        return {"room": room}

    async def _on_resume(self, content: dict[str, Any]) -> dict[str, Any]:
        since = _since_of(content, required=True) or ""
        if "room" in content:
            room = _room_of(content)
            if room not in self.rooms:
                await self._on_subscribe({"room": room, "since": since})
                return {"rooms": [room]}
            rooms = [room]
        else:
            rooms = list(self.rooms)
        for room in rooms:
            self.rooms[room].held = []
        for room in rooms:
            await self._replay(room, since)
        return {"rooms": rooms}

    async def _on_upload_begin(self, content: dict[str, Any]) -> dict[str, Any]:
        try:
            progress = await database_sync_to_async(upload_begin)(self.user, content)
        except DomainError as error:
            raise FrameError(error.code, error.message, **_details(error)) from None
        if progress.upload is not None:
            self._send_frame({"type": "upload.done", "upload": progress.upload})
        return {"upload_id": progress.upload_id, "received": progress.received}

    async def _on_upload_chunk(self, frame: bytes) -> None:
        chunk = UploadChunk.parse(frame)
        if chunk is None:
            self.push(
                protocol.error_frame(
                    "bad_frame", "A chunk is a 16-byte upload id, an 8-byte offset, then data."
                )
            )
            return
        try:
            progress = await database_sync_to_async(upload_chunk)(self.user, chunk)
        except DomainError as error:
            self.push(
                protocol.error_frame(
                    error.code, error.message, upload_id=chunk.upload_id, **_details(error)
                )
            )
            return
        except Exception:
            logger.exception("upload chunk failed")
            self.push(
                protocol.error_frame(
                    "service_unavailable",
                    "Temporarily unavailable; resume the upload.",
                    upload_id=chunk.upload_id,
                )
            )
            return
        self._send_frame(
            {"type": "upload.progress", "upload_id": chunk.upload_id, "received": progress.received}
        )
        if progress.upload is not None:
            self._send_frame({"type": "upload.done", "upload": progress.upload})

    HANDLERS = {
        "ping": _on_ping,
        "subscribe": _on_subscribe,
        "unsubscribe": _on_unsubscribe,
        "typing": _on_typing,
        "resume": _on_resume,
        "upload.begin": _on_upload_begin,
    }

    # -- rooms -------------------------------------------------------------------------------
    async def _authorize(self, room: str) -> None:
        if not await database_sync_to_async(may_join)(self.user, room):
            raise FrameError("forbidden", "You may not join this room.", room=room)

    def _enter(self, room: str) -> RoomState:
        state = self.rooms[room] = RoomState()
        self.hub.join(room, self)
        return state

    async def _exit(self, room: str) -> None:
        self.rooms.pop(room, None)
        self.hub.leave(room, self)
        if has_presence(room):
            user = await self.hub.backend.presence_leave(room, self.member)
            if user is not None:
                await self.hub.announce_presence(room, left=[user], origin=self.member)

    async def _join_presence(self, room: str) -> None:
        me = {"id": self.user_id, "username": self.user.username}
        backend = self.hub.backend
        if await backend.presence_join(room, self.member, me):
            await self.hub.announce_presence(room, joined=[me], origin=self.member)
        online = await backend.presence_online(room)
        self.push(presence_frame(room, online=online))

    async def _replay(self, room: str, since: str) -> None:
        """Kept events after `since` that this connection has not delivered, in order, then
        the live ones that arrived meanwhile, then `resumed`."""
        state = self.rooms[room]
        if state.held is None:
            state.held = []
        replay = None
        try:
            replay = await self.hub.backend.replay(room, since)
        finally:
            if replay is None:
                held, state.held = state.held, None
                self._release(room, state, held)
        count = 0
        for event_id, frame in replay.frames:
            if not state.delivered(event_id):
                count += 1
                self.push(frame)
                state.last_sent = max(state.last_sent, event_id)
                if state.first_live is None:
                    state.first_live = event_id
        held, state.held = state.held, None
        self._release(room, state, held)
        self._send_frame(
            {"type": "resumed", "room": room, "count": count, "complete": replay.complete}
        )

    def _release(self, room: str, state: RoomState, held: list[tuple[str, str]]) -> None:
        for event_id, frame in held:
            self.push_event(room, event_id, frame)

    def _log(self, event: str, level: int = logging.INFO, **fields: Any) -> None:
        query = redact_query(self.scope.get("query_string", b"").decode("latin-1"))
        if query:
            fields["query"] = query
        logger.log(level, "%s %s", event, self.scope.get("path"), extra=fields)


def _details(error: DomainError) -> dict[str, Any]:
    return {"details": error.details} if error.details else {}


def _valid_msg_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and 0 < len(value) <= protocol.MAX_MSG_ID_LENGTH


def _room_of(content: dict[str, Any]) -> str:
    room = content.get("room")
    if not is_room(room):
        raise FrameError("forbidden", "Unknown room.", room=room if isinstance(room, str) else None)
    return room


def _since_of(content: dict[str, Any], *, required: bool) -> str | None:
    since = content.get("since")
    if since is None and not required:
        return None
    if not isinstance(since, str) or not is_room(f"post:{since}"):
        raise FrameError("invalid", '"since" must be an event id.')
    return since.lower()
