"""The `/ws/v1/` endpoint: one authenticated connection per client, multiplexing rooms."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from config.http.logs import redact_query
from realtime.auth import Credentials, offered_bearer_subprotocol
from realtime.broadcast import room_group
from realtime.origins import handshake_origin, origin_allowed

logger = logging.getLogger("agora.realtime")

CLOSE_BAD_FRAME = 4400
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403


class AgoraConsumer(AsyncJsonWebsocketConsumer):
    """Accepts every handshake, so a refusal can carry the contract's close code."""

    async def connect(self) -> None:
        """Refusals are decided and rooms joined before the accept goes out, so an event
        sent right after a client sees its connection open is never missed."""
        self.credentials: Credentials | None = self.scope.get("credentials")
        self._expiry: asyncio.TimerHandle | None = None
        self.rooms: set[str] = set()
        origin = handshake_origin(self.scope)
        user = self.scope.get("user")
        refusal: tuple[int, dict[str, Any]] | None = None
        if not origin_allowed(origin):
            refusal = CLOSE_FORBIDDEN_ORIGIN, {"reason": "origin", "origin": origin}
        elif user is None or not user.is_authenticated:
            refusal = CLOSE_NOT_AUTHENTICATED, {"reason": "not_authenticated"}
        else:
            self.user = user
            await self._join(f"user:{user.pk}")
        await self.accept(subprotocol=offered_bearer_subprotocol(self.scope))
        if refusal is not None:
            code, fields = refusal
            self._log("ws.refused", **fields)
            await self.close(code=code)
            return
        self._close_when_expired()
        self._log("ws.connected", user=str(user.pk), auth=self._auth_method())

    def _auth_method(self) -> str:
        return self.credentials.method if self.credentials else "session"

    def _close_when_expired(self) -> None:
        """A token-authenticated connection lives no longer than its token."""
        if self.credentials is None or self.credentials.expires_at is None:
            return
        delay = (self.credentials.expires_at - datetime.now(UTC)).total_seconds()
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(max(0.0, delay), lambda: loop.create_task(self._expire()))

    async def _expire(self) -> None:
        self._log("ws.expired", user=str(self.user.pk))
        await self.close(code=CLOSE_NOT_AUTHENTICATED)

    async def auth_revoked(self, message: dict[str, Any]) -> None:
        """`realtime.broadcast.connections_close`: a login ended (or all of them did)."""
        session_id = message.get("session_id")
        own_session = self.credentials.session_id if self.credentials else None
        if session_id is None or session_id == own_session:
            self._log("ws.revoked", user=str(self.user.pk))
            await self.close(code=CLOSE_NOT_AUTHENTICATED)

    async def disconnect(self, code: int) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        for room in list(getattr(self, "rooms", ())):
            await self.channel_layer.group_discard(room_group(room), self.channel_name)
        self._log("ws.disconnected", code=code)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self._refuse_frame("Binary frames are not accepted on this connection.")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self._refuse_frame("Frames must be JSON text.")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self._refuse_frame('Frames must be JSON objects with a string "type".')
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        if content["type"] == "ping":
            await self.send_json({"type": "pong"})
            return
        await self.send_json(
            {
                "type": "error",
                "code": "unknown_type",
                "message": f"Unknown message type {content['type']!r}.",
            }
        )

    async def room_event(self, message: dict[str, Any]) -> None:
        """A `realtime.broadcast` event for one of this connection's rooms."""
        await self.send_json(
            {
                "type": "event",
                "id": message["id"],
                "room": message["room"],
                "event": message["event"],
                "data": message["data"],
                "request_id": message.get("request_id"),
            }
        )

    async def _join(self, room: str) -> None:
        await self.channel_layer.group_add(room_group(room), self.channel_name)
        self.rooms.add(room)

    async def _refuse_frame(self, message: str) -> None:
        await self.send_json({"type": "error", "code": "bad_frame", "message": message})
        await self.close(code=CLOSE_BAD_FRAME)

    def _log(self, event: str, **fields: Any) -> None:
        query = redact_query(self.scope.get("query_string", b"").decode("latin-1"))
        if query:
            fields["query"] = query
        logger.info("%s %s", event, self.scope.get("path"), extra=fields)
