"""WebSocket fan-out, memory per connection and presence convergence (`make bench-ws`).

Starts the web processes as production does (`manage.py serve web`, `WEB_CONCURRENCY`
processes; with Redis by default 2, so the connections spread over both), opens N clients of
one user on 127.0.0.1 (each `?token=`, as the peer lab does), and publishes 50 events at 10/s
to the user's room from a separate Django process through `realtime.broadcast.broadcast()`.

- fan-out: per N, the latency of every delivered frame (receive time - the publisher's time
  just before `broadcast()`; same clock), its p50/p99, and the share delivered;
- CPU: the web processes' CPU seconds (user, and user + system, from /proc) from the first
  publish until every frame arrived, ÷ events ÷ (N / 1,000): "ms CPU per event per 1,000
  sockets", the server's cost of fan-out whatever the client's share of the two cores;
- memory: the web processes' RSS with the largest N connected and idle, minus before, per
  connection;
- presence: 20 users in one post room spread over the processes; one process is killed with
  SIGKILL; the time until the survivors are told (`left`) about every user it held.

The numbers include the client side: one asyncio process drains N sockets on the same two
cores. Needs DATABASE_URL (a dedicated database; users and a post are created in it) and
REDIS_URL for the multi-process figures; without Redis it measures the one embedded process.

    DATABASE_URL=postgres://…/bench REDIS_URL=redis://…/2 python -m tests.perf.ws_fanout \
        --clients 1000 2000 5000

`--peer` measures the FastAPI peer of /work/shared/perf (its `ws/server.py`, started from
there) with the same clients, events and figures (tests/perf/ws_peer.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from tests.perf.run import BASE_DIR, free_port, python_output, server_env, wait_until_up

MESSAGES = 50
RATE = 10.0
PAD = "x" * 200
PRESENCE_USERS = 20
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

SETUP = """
import json, django; django.setup()
from django.utils import timezone
from accounts.models import User, Role
from accounts.services import login_session_start
from content.models import Post
users = []
for n in range({users}):
    user, _ = User.objects.get_or_create(
        username=f"wsbench{{n}}",
        defaults={{
            "email": f"wsbench{{n}}@example.org", "role": Role.USER, "email_verified": True
        }},
    )
    users.append(user)
post = Post.objects.filter(author=users[0], title="WebSocket bench").first()
post = post or Post.objects.create(
    author=users[0], title="WebSocket bench", body="", status="published",
    published_at=timezone.now())
print(json.dumps({{"post": str(post.pk), "users": [
    {{"id": str(u.pk), "token": login_session_start(user=u).access_token}} for u in users]}}))
"""

PUBLISHER = """
import json, sys, time, django; django.setup()
from realtime.broadcast import broadcast
room = sys.argv[1]
broadcast(room, "bench.warmup", {{}})
print("READY", flush=True)
sys.stdin.readline()
start = time.perf_counter()
calls = []
for seq in range({messages}):
    time.sleep(max(0.0, start + seq / {rate} - time.perf_counter()))
    began = time.perf_counter()
    broadcast(room, "bench.tick", {{"seq": seq, "ts": time.time(), "pad": {pad!r}}})
    calls.append((time.perf_counter() - began) * 1000)
calls.sort()
print("DONE " + json.dumps({{"call_p50_ms": calls[len(calls) // 2], "call_max_ms": calls[-1]}}),
      flush=True)
"""


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def tree_rss_kb(pid: int) -> int:
    """RSS of a process and its descendants (the web processes under `serve web`)."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pids.extend(int(child) for child in children)
    return total


def socket_owner(client_port: int) -> int | None:
    """The server process holding the other end of a client socket (from `ss -tnp`)."""
    result = subprocess.run(
        ["ss", "-Htnp", "state", "established", "dst", f"127.0.0.1:{client_port}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    match = re.search(r"pid=(\d+)", result.stdout)
    return int(match.group(1)) if match else None


def children_of(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


async def open_clients(url: str, count: int, concurrency: int = 200) -> list[object]:
    from websockets.asyncio.client import connect

    gate = asyncio.Semaphore(concurrency)

    async def one() -> object | None:
        async with gate:
            try:
                # No permessage-deflate offered: Agora refuses it by default, the peer would
                # accept it, and both are measured sending plain frames.
                return await connect(
                    url, open_timeout=60, ping_interval=None, max_queue=None, compression=None
                )
            except Exception as exc:  # noqa: BLE001 - counted, not fatal
                print(f"  connect failed: {type(exc).__name__}: {exc}", flush=True)
                return None

    return [ws for ws in await asyncio.gather(*(one() for _ in range(count))) if ws]


def tree_cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process and its descendants (from /proc/PID/stat)."""
    user = system = 0.0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
        except OSError:
            continue
        # The fields after the command name, which is in parentheses and may hold spaces.
        fields = stat.rsplit(")", 1)[1].split()
        user += int(fields[11]) / CLOCK_TICKS
        system += int(fields[12]) / CLOCK_TICKS
        pids.extend(children_of(current))
    return user, system


class Publisher(Protocol):
    """Sends MESSAGES `bench.tick` events at RATE/s to the room the clients are in."""

    async def prepare(self) -> None: ...

    async def run(self) -> dict[str, float]: ...


class AgoraPublisher:
    """A separate Django process calling `realtime.broadcast.broadcast()`, as a task would."""

    def __init__(self, env: dict[str, str], room: str) -> None:
        self.env = env
        self.room = room
        self.process: asyncio.subprocess.Process | None = None

    async def prepare(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            PUBLISHER.format(messages=MESSAGES, rate=RATE, pad=PAD),
            self.room,
            cwd=BASE_DIR,
            env=self.env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None
        for _ in range(100):
            if (await self.process.stdout.readline()).strip() in (b"READY", b""):
                break

    async def run(self) -> dict[str, float]:
        assert self.process is not None
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(b"GO\n")
        await self.process.stdin.drain()
        done_line = (await self.process.stdout.readline()).decode()
        await self.process.wait()
        return json.loads(done_line.split(" ", 1)[1]) if done_line.startswith("DONE") else {}


async def fanout(
    ws_url: str, count: int, server_pid: int, publisher: Publisher
) -> dict[str, object]:
    """N clients of `ws_url`, MESSAGES events from `publisher`: latency, delivery, memory per
    connection and the server's CPU per event (its whole process tree, from the first publish
    until every frame arrived or the deadline)."""
    received: list[tuple[float, dict[str, object]]] = []
    per_client: dict[int, int] = {}
    closes: dict[str, int] = {}
    rss_before = tree_rss_kb(server_pid)
    started = time.perf_counter()
    clients = await open_clients(ws_url, count)
    connect_seconds = time.perf_counter() - started

    async def read(ws: object) -> None:
        try:
            async for raw in ws:  # type: ignore[attr-defined]
                frame = json.loads(raw)
                if frame.get("event") == "bench.tick":
                    received.append((time.time(), frame["data"]))
                    per_client[id(ws)] = per_client.get(id(ws), 0) + 1
        except Exception:  # noqa: BLE001 - a closed socket ends its reader
            closes[str(getattr(ws, "close_code", None))] = (
                closes.get(str(getattr(ws, "close_code", None)), 0) + 1
            )

    readers = [asyncio.create_task(read(ws)) for ws in clients]
    await asyncio.sleep(1.0)
    rss_connected = tree_rss_kb(server_pid)
    await publisher.prepare()
    cpu_before = tree_cpu_seconds(server_pid)
    run = asyncio.create_task(publisher.run())
    expected = len(clients) * MESSAGES
    deadline = time.monotonic() + MESSAGES / RATE + 30
    while len(received) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    cpu_after = tree_cpu_seconds(server_pid)
    calls = await run
    latencies = [(at - float(data["ts"])) * 1000 for at, data in received]  # type: ignore[arg-type]
    await asyncio.gather(*(ws.close() for ws in clients), return_exceptions=True)  # type: ignore[attr-defined]
    for reader in readers:
        reader.cancel()
    user = cpu_after[0] - cpu_before[0]
    total = user + cpu_after[1] - cpu_before[1]
    per_event_per_k = 1000 / MESSAGES / (max(1, len(clients)) / 1000)
    return {
        "clients": count,
        "connected": len(clients),
        "connect_s": connect_seconds,
        "delivered_pct": 100 * len(received) / expected if expected else 0.0,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "cpu_ms_per_event_per_1k": total * per_event_per_k,
        "cpu_user_ms_per_event_per_1k": user * per_event_per_k,
        "kb_per_connection": (rss_connected - rss_before) / max(1, len(clients)),
        "clients_with_all": sum(n == MESSAGES for n in per_client.values()),
        "clients_with_none": len(clients) - len(per_client),
        "closed_by_server": closes,
        "broadcast_call_p50_ms": float(calls.get("call_p50_ms", float("nan"))),
    }


def print_table(title: str, rows: list[dict[str, object]]) -> None:
    print(f"\n{title}")
    print(
        f"{'clients':>8}{'connected':>10}{'delivered':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'CPU ms/ev/1k':>13}{'(user)':>8}{'KB/conn':>9}{'connect s':>10}"
    )
    for row in rows:
        print(
            f"{row['clients']:>8}{row['connected']:>10}{row['delivered_pct']:>9.1f}%"
            f"{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}"
            f"{row['cpu_ms_per_event_per_1k']:>13.1f}{row['cpu_user_ms_per_event_per_1k']:>8.1f}"
            f"{row['kb_per_connection']:>9.1f}{row['connect_s']:>10.1f}"
        )


async def presence_convergence(
    base_ws: str, users: list[dict[str, str]], post_id: str, server_pid: int
) -> dict[str, float]:
    """Users join one post room over the web processes; one process dies with SIGKILL."""
    from websockets.asyncio.client import connect

    room = f"post:{post_id}"
    watcher_user, members = users[0], users[1:]
    watcher = await connect(f"{base_ws}?token={watcher_user['token']}", ping_interval=None)
    await watcher.send(json.dumps({"type": "subscribe", "room": room}))
    clients = []
    for user in members:
        ws = await connect(f"{base_ws}?token={user['token']}", ping_interval=None)
        await ws.send(json.dumps({"type": "subscribe", "room": room}))
        clients.append(ws)
    await asyncio.sleep(1.0)
    online: set[str] = set()
    while True:
        try:
            frame = json.loads(await asyncio.wait_for(watcher.recv(), 0.5))
        except TimeoutError:
            break
        if frame.get("type") == "presence":
            online |= {u["id"] for u in frame.get("online", []) + frame["joined"]}
            online -= {u["id"] for u in frame["left"]}
    workers = [
        pid
        for pid in children_of(server_pid)
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    # Kill a process that does not hold the watcher's socket (the kernel spreads accepts).
    holder = socket_owner(watcher.local_address[1])
    victim = next((pid for pid in workers if pid != holder), workers[0])
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    gone: set[str] = set()
    lost = 0
    for ws in clients:  # the kernel closed the dead process's sockets: their reads fail
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 0.2)
        except TimeoutError:
            continue
        except Exception:  # noqa: BLE001 - closed: it was on the killed process
            lost += 1
    deadline = killed_at + 120
    left_at = None
    while time.monotonic() < deadline:
        try:
            frame = json.loads(await asyncio.wait_for(watcher.recv(), 1.0))
        except TimeoutError:
            continue
        except Exception:  # noqa: BLE001 - the watcher was on the killed process
            return {"killed_pid": victim, "watcher_lost": 1.0}
        if frame.get("type") == "presence":
            gone |= {u["id"] for u in frame["left"]}
            if len(gone) >= lost and lost:
                left_at = time.monotonic()
                break
    for ws in [watcher, *clients]:
        with contextlib.suppress(Exception):  # half of them are already gone
            await ws.close()
    return {
        "members": len(members),
        "dropped_by_kill": lost,
        "left_announced": len(gone),
        "convergence_s": (left_at - killed_at) if left_at else float("nan"),
    }


@contextlib.contextmanager
def web_server(workers: int) -> Iterator[tuple[dict[str, str], subprocess.Popen[bytes], int]]:
    """`manage.py serve web` as production runs it, migrated, with the per-user socket cap
    raised (the benches connect many sockets of one user); stopped with SIGTERM afterwards.
    Yields its environment, process and port."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    env = server_env()
    env.update(
        WS_MAX_CONNECTIONS_PER_USER="100000",
        WEB_CONCURRENCY=str(workers if env.get("REDIS_URL") else 1),
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=BASE_DIR, env=env, check=True,
    )  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "web", "--host", "127.0.0.1", "--port", str(port)],
        cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{port}", server)
        yield env, server, port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, nargs="*", default=[1000, 2000, 5000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-presence", action="store_true")
    parser.add_argument(
        "--peer",
        action="store_true",
        help="measure the FastAPI peer of /work/shared/perf the same way (tests/perf/ws_peer.py)",
    )
    args = parser.parse_args()
    if args.peer:
        from tests.perf.ws_peer import measure_peer

        print_table(
            f"FastAPI peer, WebSocket fan-out: {MESSAGES} events at {RATE:.0f}/s to every "
            f"socket, {args.workers} uvicorn workers, Redis pub/sub",
            measure_peer(args.clients, args.workers),
        )
        return

    rows = []
    presence: dict[str, float] = {}
    with web_server(args.workers) as (env, server, port):
        setup = json.loads(python_output(env, SETUP.format(users=PRESENCE_USERS + 1))[-1])
        base_ws = f"ws://127.0.0.1:{port}/ws/v1/"
        owner = setup["users"][0]
        room = f"user:{owner['id']}"
        for count in args.clients:
            row = asyncio.run(
                fanout(
                    f"{base_ws}?token={owner['token']}",
                    count,
                    server.pid,
                    AgoraPublisher(env, room),
                )
            )
            rows.append(row)
            print(json.dumps(row), flush=True)
        if not args.no_presence and env.get("REDIS_URL"):
            presence = asyncio.run(
                presence_convergence(base_ws, setup["users"], setup["post"], server.pid)
            )
            print(json.dumps(presence), flush=True)

    print_table(
        f"WebSocket fan-out: {MESSAGES} events at {RATE:.0f}/s to one room, "
        f"{env['WEB_CONCURRENCY']} web process(es), Redis: {bool(env.get('REDIS_URL'))}",
        rows,
    )
    if presence:
        print(f"presence after SIGKILL of one web process: {presence}")


if __name__ == "__main__":
    main()
