"""Compare HTTP/WebSocket server setups for Agora on this machine (how `serve` was chosen).

`python -m tests.perf.servers [--seconds 8] [--only NAME ...]` starts each candidate in turn
with the production settings of `make bench` (PostgreSQL and Redis from DATABASE_URL and
REDIS_URL), drives /health, /health/db and a bearer-authenticated /api/v1/users/me with wrk
at 100 connections, measures WebSocket ping round trips where the server carries WebSockets,
and prints one table. Only 127.0.0.1 is contacted; every run is bounded in time.

granian and gunicorn are not dependencies of Agora: `pip install granian gunicorn` to include
them; candidates whose program is missing are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.perf.run import (
    BASE_DIR,
    bench_credentials,
    ensure_wrk,
    free_port,
    run_wrk,
    seed,
    server_env,
    websocket_round_trips,
)

TARGETS = (
    ("/health", "/health", False),
    ("/health/db", "/health/db", False),
    ("bearer /users/me", "/api/v1/users/me", True),
)
PY = sys.executable
BIN = os.path.dirname(PY)


THREADED = "config.asgi:application"  # what `serve` runs: HTTP on the threaded WSGI path
DJANGO_ASGI = "tests.perf.django_asgi:application"  # HTTP through Django's ASGI handler


@dataclass
class Candidate:
    name: str
    argv: Callable[[int, int | None], list[str]]
    websocket: bool = True
    shared_socket: int = 0  # >0: processes sharing one listening socket (daphne has no workers)
    env: dict[str, str] = field(default_factory=dict)


def _daphne(app: str) -> Callable[[int, int | None], list[str]]:
    def argv(port: int, fd: int | None) -> list[str]:
        where = ["--fd", str(fd)] if fd is not None else ["-b", "127.0.0.1", "-p", str(port)]
        return [PY, "-m", "daphne", *where, "-v", "0", app]

    return argv


def _uvicorn(app: str, workers: int) -> Callable[[int, int | None], list[str]]:
    from config.management.commands.serve import uvicorn_argv

    return lambda port, _: uvicorn_argv("127.0.0.1", port, workers, application=app)


def _granian(interface: str, app: str, workers: int, threads: int = 1) -> Callable[..., list[str]]:
    return lambda port, _: [
        f"{BIN}/granian",
        f"--interface={interface}",
        app,
        "--host=127.0.0.1",
        f"--port={port}",
        f"--workers={workers}",
        f"--blocking-threads={threads}",
        *(["--loop=uvloop"] if interface != "wsgi" else []),
        "--no-access-log",
        "--log-level=warning",
    ]


def _gunicorn(workers: int, threads: int) -> Callable[[int, int | None], list[str]]:
    return lambda port, _: [
        f"{BIN}/gunicorn",
        "config.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--worker-class=gthread",
        "--log-level=warning",
    ]


def _threads(count: int) -> dict[str, str]:
    return {"HTTP_THREADS": str(count)}


CANDIDATES = (
    Candidate("daphne x1 (before)", _daphne(DJANGO_ASGI)),
    Candidate("daphne x2 (shared fd)", _daphne(DJANGO_ASGI), shared_socket=2),
    Candidate("uvicorn x2 django-asgi", _uvicorn(DJANGO_ASGI, 2)),
    Candidate("granian-asgi x2 django-asgi", _granian("asgi", DJANGO_ASGI, 2)),
    Candidate("granian-wsgi x2 t8", _granian("wsgi", "config.wsgi:application", 2, 8), False),
    Candidate("gunicorn gthread x2 t8", _gunicorn(2, 8), websocket=False),
    Candidate("daphne x1 threaded t8", _daphne(THREADED), env=_threads(8)),
    Candidate("granian-asgi x2 threaded t8", _granian("asgi", THREADED, 2), env=_threads(8)),
    Candidate("uvicorn x1 threaded t8", _uvicorn(THREADED, 1), env=_threads(8)),
    Candidate("uvicorn x2 threaded t4", _uvicorn(THREADED, 2), env=_threads(4)),
    Candidate("uvicorn x2 threaded t8", _uvicorn(THREADED, 2), env=_threads(8)),
    Candidate("uvicorn x2 threaded t16", _uvicorn(THREADED, 2), env=_threads(16)),
)


def cpu_busy_fraction(seconds: float = 1.0) -> float:
    """Share of CPU time not idle over `seconds` (Linux /proc/stat)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        return sum(values), values[3] + values[4]

    total_before, idle_before = sample()
    time.sleep(seconds)
    total_after, idle_after = sample()
    total = max(1, total_after - total_before)
    return 1 - (idle_after - idle_before) / total


def wait_for_quiet_machine(limit_seconds: float) -> float:
    """Others share this machine: wait (bounded) until it is mostly idle; returns the busy share."""
    deadline = time.monotonic() + limit_seconds
    busy = cpu_busy_fraction()
    while busy > 0.25 and time.monotonic() < deadline:
        busy = cpu_busy_fraction(2.0)
    return busy


def start(candidate: Candidate, env: dict[str, str]) -> tuple[int, list[subprocess.Popen[bytes]]]:
    full_env = {**env, **candidate.env}
    if not candidate.shared_socket:
        port = free_port()
        argv = candidate.argv(port, None)
        return port, [subprocess.Popen(argv, cwd=BASE_DIR, env=full_env, start_new_session=True)]
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    processes = [
        subprocess.Popen(
            candidate.argv(port, fd),
            cwd=BASE_DIR,
            env=full_env,
            pass_fds=(fd,),
            start_new_session=True,
        )
        for _ in range(candidate.shared_socket)
    ]
    listener.close()
    return port, processes


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument(
        "--quiet-wait", type=float, default=30, help="seconds to wait for others' load to pass"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat the whole set; each cell keeps its best"
    )
    args = parser.parse_args()

    from config.management.commands.serve import wait_until_answering

    wrk = ensure_wrk()
    env = server_env()
    seed(env)
    cookie, access_token = bench_credentials(env)
    bearer = (f"Authorization: Bearer {access_token}",)
    best: dict[str, list[dict[str, float] | None]] = {}
    chosen = [c for c in CANDIDATES if not args.only or any(w in c.name for w in args.only)]
    for candidate in [c for _ in range(args.rounds) for c in chosen]:
        program = candidate.argv(0, None)[0]
        if not os.path.exists(program):
            print(f"{candidate.name}: skipped, {os.path.basename(program)} is not installed")
            continue
        busy = wait_for_quiet_machine(args.quiet_wait)
        port, processes = start(candidate, env)
        base = f"http://127.0.0.1:{port}"
        results: list[dict[str, float] | None] = []
        try:
            if not wait_until_answering(f"{base}/health/ready", timeout=60):
                print(f"{candidate.name}: did not start", flush=True)
                continue
            for _, path, authenticated in TARGETS:
                headers = bearer if authenticated else ()
                results.append(run_wrk(wrk, base + path, args.connections, args.seconds, headers))
            ws = None
            if candidate.websocket:
                try:
                    ws = asyncio.run(
                        websocket_round_trips(
                            f"ws://127.0.0.1:{port}/ws/v1/", cookie, args.connections, args.seconds
                        )
                    )
                except Exception as exc:  # noqa: BLE001 - reported in the table as failed
                    print(f"{candidate.name}: WebSocket benchmark failed: {exc!r}", flush=True)
            results.append(ws)
        finally:
            stop(processes)
        print(
            f"{candidate.name} (machine {busy:.0%} busy before):",
            [r and round(r["rps"]) for r in results],
            flush=True,
        )
        kept = best.setdefault(candidate.name, results)
        for index, result in enumerate(results):
            if result is not None and (kept[index] is None or result["rps"] > kept[index]["rps"]):
                kept[index] = result

    header = "".join(f"{label:>22}" for label, _, _ in TARGETS) + f"{'ws ping':>22}"
    print(f"\n{'server':<26}{header}\n{'':<26}" + f"{'req/s  p50/p99 ms':>22}" * 4)
    for name, results in best.items():
        cells = "".join(
            f"{'-':>22}"
            if r is None
            else f"{r['rps']:>8.0f} {r['p50']:>6.0f}/{r['p99']:<5.0f}"
            + ("!" if r["non_2xx"] else " ")
            for r in results
        )
        print(f"{name:<26}{cells}")


if __name__ == "__main__":
    main()
