"""Uploads over the socket: `upload.begin`, binary chunks, `upload.progress`, `upload.done`."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The protocol's largest chunk: a binary frame is a 16-byte upload id, an 8-byte offset and
# at most this many bytes.
MAX_CHUNK_BYTES = 256 * 1024
HEADER_BYTES = 24

UploadSource = bytes | bytearray | memoryview | str | os.PathLike[str]


def chunk_frame(upload_id: str, offset: int, data: bytes) -> bytes:
    """A binary frame: the upload's UUID bytes, the big-endian offset, the data."""
    if len(data) > MAX_CHUNK_BYTES:
        raise ValueError(f"a chunk carries at most {MAX_CHUNK_BYTES} bytes")
    return uuid.UUID(upload_id).bytes + offset.to_bytes(8, "big") + data


def parse_chunk_frame(frame: bytes) -> tuple[str, int, bytes]:
    """The inverse of `chunk_frame` (for tests and servers written in Python)."""
    if len(frame) < HEADER_BYTES:
        raise ValueError("a chunk frame starts with 24 header bytes")
    return (
        str(uuid.UUID(bytes=frame[:16])),
        int.from_bytes(frame[16:24], "big"),
        frame[HEADER_BYTES:],
    )


async def load_source(source: UploadSource) -> bytes:
    """The bytes to upload (a file is read in a worker thread; uploads are at most the
    server's limit, 10 MiB by default, so they are held in memory)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    return await asyncio.to_thread(Path(source).read_bytes)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class UploadProgress:
    """Where one upload stands; woken by the client's reader on every upload frame."""

    size: int
    received: int = 0
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    lost: bool = False

    def __post_init__(self) -> None:
        self.changed = asyncio.Event()

    def update(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "upload.progress":
            self.received = max(self.received, int(frame.get("received", 0)))
        elif kind == "upload.done":
            self.result = frame.get("upload") or {}
            self.received = self.size
        elif kind == "error":
            self.error = frame
        self.changed.set()

    def connection_lost(self) -> None:
        self.lost = True
        self.changed.set()

    async def wait(self, timeout: float | None) -> None:
        await asyncio.wait_for(self.changed.wait(), timeout)
        self.changed.clear()
