"""Python SDK for Agora: REST with self-refreshing tokens and the `/ws/v1/` realtime socket
(rooms, presence, typing, acks, an offline queue, reconnect with resume, uploads)."""

from agora_client.client import AgoraClient, new_msg_id
from agora_client.errors import (
    AckTimeout,
    AgoraError,
    ApiError,
    AuthenticationError,
    ClientClosed,
    ConnectionLost,
    FrameError,
    NetworkError,
    QueueFull,
    UploadError,
)
from agora_client.pacing import full_jitter
from agora_client.rooms import Event, PresenceChange, Resumed, floor_event_id
from agora_client.uploads import chunk_frame, parse_chunk_frame

__all__ = [
    "AckTimeout",
    "AgoraClient",
    "AgoraError",
    "ApiError",
    "AuthenticationError",
    "ClientClosed",
    "ConnectionLost",
    "Event",
    "FrameError",
    "NetworkError",
    "PresenceChange",
    "QueueFull",
    "Resumed",
    "UploadError",
    "chunk_frame",
    "floor_event_id",
    "full_jitter",
    "new_msg_id",
    "parse_chunk_frame",
]
