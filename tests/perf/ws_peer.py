"""`ws_fanout --peer`: the FastAPI peer's WebSocket fan-out, measured as Agora's is.

The peer is /work/shared/perf's `ws/server.py` (FastAPI's ConnectionManager pattern, Redis
pub/sub between workers; its README), started from there as its `run.sh` starts it:
`uvicorn ws.server:app --workers 2 --loop uvloop --http httptools --no-access-log`. Nothing of
it is copied here. It runs in the lab's virtualenv: `PEER_PYTHON`, else
`$PERF_HOME/venv` (`/tmp/agora-sbs/venv`, what `run.sh` builds) when it is there, else one
built once under `/tmp/agora-ws-peer/` from the lab's `requirements.txt`.

The same clients (N sockets, no compression offered) receive the same 50 events at 10/s, each
an Agora-shaped event frame of the same size, published on a channel of its own on the
bench's Redis; ws_fanout.fanout computes the same latency and CPU figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from config.management.commands.serve import wait_until_answering
from tests.perf.run import free_port
from tests.perf.ws_fanout import MESSAGES, PAD, RATE, fanout

PEER_DIR = Path(os.environ.get("WS_PEER_DIR", "/work/shared/perf"))
# The lab writes under /tmp (its README); so does this, beside it.
LAB_VENV = Path(os.environ.get("PERF_HOME", "/tmp/agora-sbs")) / "venv"  # noqa: S108
OWN_VENV = Path("/tmp/agora-ws-peer/venv")  # noqa: S108
PIP_TIMEOUT_SECONDS = 600
ROOM = "user:peer"


def peer_python() -> str:
    """An interpreter that runs the peer (FastAPI and its pins), built once when none is."""
    if os.environ.get("PEER_PYTHON"):
        return os.environ["PEER_PYTHON"]
    for venv in (LAB_VENV, OWN_VENV):
        python = venv / "bin" / "python"
        probe = [str(python), "-c", "import fastapi, redis, uvicorn, uvloop"]
        if python.exists() and subprocess.run(probe, check=False).returncode == 0:
            return str(python)
    print(f"building the peer's virtualenv in {OWN_VENV} (once)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(OWN_VENV)], check=True)
    subprocess.run(
        [str(OWN_VENV / "bin" / "pip"), "install", "-q", "-r", str(PEER_DIR / "requirements.txt")],
        check=True,
        timeout=PIP_TIMEOUT_SECONDS,
    )
    return str(OWN_VENV / "bin" / "python")


@contextlib.contextmanager
def peer_server(workers: int, redis_url: str, channel: str) -> Iterator[tuple[int, int]]:
    """The peer's WS server on a free port; yields its port and pid; SIGTERM afterwards."""
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "WS_CHANNEL": channel}
    server = subprocess.Popen(
        [
            peer_python(),
            "-m",
            "uvicorn",
            "ws.server:app",
            "--host=127.0.0.1",
            f"--port={port}",
            f"--workers={workers}",
            "--loop=uvloop",
            "--http=httptools",
            "--no-access-log",
            "--log-level=warning",
        ],
        cwd=PEER_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        answering = wait_until_answering(
            f"http://127.0.0.1:{port}/health", timeout=60, give_up=lambda: server.poll() is not None
        )
        if not answering:
            sys.exit("the peer's server did not come up")
        time.sleep(1.0)  # run.sh's pause: the second worker finishes booting
        yield port, server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class PeerPublisher:
    """PUBLISHes the events on the peer's channel from this process (its workers relay each
    message as is to their sockets), at the rate Agora's publisher calls `broadcast()`."""

    def __init__(self, redis_url: str, channel: str) -> None:
        self.redis_url = redis_url
        self.channel = channel

    async def prepare(self) -> None:
        return None

    async def run(self) -> dict[str, float]:
        import redis.asyncio as redis
        from uuid_utils.compat import uuid7

        client = redis.Redis.from_url(self.redis_url)
        calls = []
        try:
            loop = asyncio.get_running_loop()
            start = loop.time()
            for seq in range(MESSAGES):
                await asyncio.sleep(max(0.0, start + seq / RATE - loop.time()))
                frame = {
                    "type": "event",
                    "id": str(uuid7()),
                    "room": ROOM,
                    "event": "bench.tick",
                    "data": {"seq": seq, "ts": time.time(), "pad": PAD},
                    "request_id": None,
                }
                began = time.perf_counter()
                await client.publish(self.channel, json.dumps(frame, separators=(",", ":")))
                calls.append((time.perf_counter() - began) * 1000)
        finally:
            await client.aclose()
        calls.sort()
        return {"call_p50_ms": calls[len(calls) // 2], "call_max_ms": calls[-1]}


def measure_peer(clients: list[int], workers: int) -> list[dict[str, object]]:
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    channel = f"agora-ws-peer-bench-{os.getpid()}"
    rows = []
    with peer_server(workers, redis_url, channel) as (port, pid):
        for count in clients:
            publisher = PeerPublisher(redis_url, channel)
            row = asyncio.run(fanout(f"ws://127.0.0.1:{port}/ws", count, pid, publisher))
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows
