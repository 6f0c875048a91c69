"""Uploads over the socket: the frames' shapes, handed to the content services that own uploads
(the same checks as `POST uploads`, one code path). Sync: the consumer calls these off the loop.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from content.representations import upload_representation
from content.services import upload_session_append, upload_session_begin

CHUNK_HEADER_BYTES = 24


@dataclass(frozen=True)
class UploadChunk:
    """A binary frame: 16 bytes of upload id, an 8-byte big-endian offset, then the data."""

    upload_id: str
    offset: int
    data: bytes

    @classmethod
    def parse(cls, frame: bytes) -> UploadChunk | None:
        if len(frame) <= CHUNK_HEADER_BYTES:
            return None
        upload_id = str(uuid.UUID(bytes=frame[:16]))
        offset = int.from_bytes(frame[16:CHUNK_HEADER_BYTES], "big")
        return cls(upload_id, offset, frame[CHUNK_HEADER_BYTES:])


@dataclass(frozen=True)
class UploadState:
    """What the client is told: the upload's id, bytes received, and the Upload when done."""

    upload_id: str
    received: int
    upload: dict[str, Any] | None


def upload_begin(user: Any, frame: dict[str, Any]) -> UploadState:
    """`upload.begin`: a new chunked upload, or with `upload_id` the state of one to resume."""
    progress = upload_session_begin(
        actor=user,
        name=frame.get("name"),  # type: ignore[arg-type]  # the service validates every field
        size=frame.get("size"),  # type: ignore[arg-type]
        content_type=frame.get("content_type"),  # type: ignore[arg-type]
        sha256=frame.get("sha256"),  # type: ignore[arg-type]
        upload_id=frame.get("upload_id"),
    )
    return _state(progress)


def upload_chunk(user: Any, chunk: UploadChunk) -> UploadState:
    progress = upload_session_append(
        actor=user, upload_id=chunk.upload_id, offset=chunk.offset, data=chunk.data
    )
    return _state(progress)


def _state(progress: Any) -> UploadState:
    upload = upload_representation(progress.upload) if progress.upload is not None else None
    return UploadState(progress.upload_id, progress.received, upload)
