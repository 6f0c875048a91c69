"""Fan-out frames encoded once per process and written straight to the sockets that can take them.

An event's JSON text is built once (where it is published) and reaches every process as is; the
hub then encodes the WebSocket frame that carries it once too: `text_frame(text)` is the bytes
of one unmasked, unfragmented, uncompressed text frame, exactly what websockets' `send_text`
puts on the wire for that text. A connection's `DirectWriter` writes those bytes to the
socket's asyncio transport, which skips what the ASGI `send` costs per socket per event (a
queue append, a task step, a message dict, an encode, a frame serialisation).

How the server's protocol object is found: uvicorn calls the application with `send` bound to
the connection's protocol, and realtime.routing.RawSend keeps that `send` in the scope before
any middleware wraps it, so `send.__self__` is the protocol. A writer exists only when it is
uvicorn's websockets-sansio protocol (`--ws=websockets-sansio`, as `manage.py serve` runs it)
and the handshake negotiated no extension (no permessage-deflate): a compressed frame differs
per socket. Anything else has no writer and the connection uses `send` for every frame:
daphne, Channels' test communicator, uvicorn's other WebSocket implementations, a `send`
wrapped by uvicorn's trace-level message logger, a uvicorn whose protocol lacks what is read
here.

`write` declines (the caller then queues the frame for `send`, as before) unless the
connection is open on both sides of the protocol (uvicorn sent no close, websockets' state is
OPEN, the transport is not closing), websockets holds no bytes of its own waiting to be
written, and the transport's write buffer plus the frame stays within the transport's
high-water mark, the limit at which uvicorn's `send` itself waits. So a slow reader fills at
most that buffer through here; after that its frames queue in the connection's bounded outbox
and it is closed with 1013 as before.
"""

from __future__ import annotations

import struct
from typing import Any

from websockets.protocol import State

TEXT_FRAME_HEAD = 0x81  # FIN, opcode 1 (text), no RSV bits: not compressed


def text_frame(text: str) -> bytes:
    """The wire bytes of one server-to-client text frame carrying `text` (RFC 6455 5.2)."""
    payload = text.encode()
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", TEXT_FRAME_HEAD, length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", TEXT_FRAME_HEAD, 126, length)
    else:
        head = struct.pack("!BBQ", TEXT_FRAME_HEAD, 127, length)
    return head + payload


def _sansio_protocol_class() -> type | None:
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import (
            WebSocketsSansIOProtocol,
        )
    except ImportError:
        return None
    return WebSocketsSansIOProtocol


class DirectWriter:
    """Writes pre-encoded text frames to one uvicorn websockets-sansio connection."""

    __slots__ = ("_connection", "_limit", "_protocol", "_transport")

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        self._connection = protocol.conn
        self._transport = protocol.transport
        self._limit = self._transport.get_write_buffer_limits()[1]

    @classmethod
    def attach(cls, send: Any) -> DirectWriter | None:
        """A writer for the connection behind the server's own `send`, once the handshake is
        done; None when the frames must go through `send` (see the module's docstring)."""
        protocol_class = _sansio_protocol_class()
        protocol = getattr(send, "__self__", None)
        if protocol_class is None or not isinstance(protocol, protocol_class):
            return None
        try:
            connection = protocol.conn
            transport = protocol.transport
            ready = (
                protocol.handshake_complete
                and connection.state is State.OPEN
                and not connection.extensions
                and transport is not None
                and isinstance(protocol.writable.is_set(), bool)
                and isinstance(transport.get_write_buffer_size(), int)
                and isinstance(connection.writes, list)
            )
            writer = cls(protocol) if ready else None
        except (AttributeError, NotImplementedError, TypeError, ValueError):
            return None
        return writer

    def write(self, frame: bytes) -> bool:
        """Write `frame` now if the connection can take it as `send` would; False otherwise
        (nothing written: the caller sends it the ordinary way)."""
        protocol = self._protocol
        transport = self._transport
        if (
            protocol.close_sent
            or protocol.disconnected
            or not protocol.writable.is_set()
            or self._connection.state is not State.OPEN
            or self._connection.writes
            or transport.is_closing()
            or transport.get_write_buffer_size() + len(frame) > self._limit
        ):
            return False
        transport.write(frame)
        return True

    def buffered(self) -> int:
        """Bytes waiting in the transport's write buffer (for the slow-reader log)."""
        return self._transport.get_write_buffer_size()
