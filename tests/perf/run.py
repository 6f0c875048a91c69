"""`make bench`: throughput and latency percentiles of the running stack, as in production.

Starts `manage.py serve` with DJANGO_ENV=production (DEBUG off, no console access log) on the
configured database and Redis (DATABASE_URL / REDIS_URL; a SQLite file and the embedded stack
otherwise), drives HTTP endpoints with wrk (Debian's package) and WebSocket ping round trips
with an asyncio client, all on 127.0.0.1, each for a bounded time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
HTTP_TARGETS = (
    ("liveness  GET /health", "/health", False),
    ("index     GET /", "/", False),
    ("database  GET /health/db", "/health/db", False),
    ("readiness GET /health/ready", "/health/ready", False),
    ("bearer    GET /api/v1/users/me", "/api/v1/users/me", True),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        return shutil.which("wrk") or sys.exit("wrk did not install")
    sys.exit("make bench needs wrk: apt-get install wrk")


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'bench.sqlite3'}")
    env.update(
        DJANGO_ENV="production",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=env.get("BENCH_SECRET_KEY", secrets.token_urlsafe(64)),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="WARNING",
        DEBUG="false",
    )
    # The limiter still counts every request (its cost is measured); 100 clients from one
    # address must not be refused by it.
    for role in ("ANON", "GUEST", "USER", "ADMIN"):
        env.setdefault(f"RATE_LIMIT_{role}", "100000000/min")
    return env


def wait_until_up(base_url: str, process: subprocess.Popen[bytes]) -> None:
    from config.management.commands.serve import wait_until_answering

    ready = wait_until_answering(
        f"{base_url}/health/ready", timeout=60, give_up=lambda: process.poll() is not None
    )
    if not ready:
        sys.exit("the server did not become ready")


def parse_wrk(output: str) -> dict[str, float]:
    def millis(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    percentiles = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    if len(percentiles) != 3:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": millis(percentiles["50"]),
        "p90": millis(percentiles["90"]),
        "p99": millis(percentiles["99"]),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def run_wrk(
    wrk: str, url: str, connections: int, seconds: int, headers: tuple[str, ...] = ()
) -> dict[str, float]:
    header_args = [arg for header in headers for arg in ("-H", header)]
    result = subprocess.run(
        [
            wrk,
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "10s",
            *header_args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    return parse_wrk(result.stdout)


async def websocket_round_trips(
    ws_url: str, cookie: str, connections: int, seconds: float
) -> dict[str, float]:
    from websockets.asyncio.client import connect

    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def client() -> None:
        async with connect(ws_url, additional_headers={"Cookie": cookie}, open_timeout=30) as ws:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                await ws.send('{"type":"ping"}')
                await asyncio.wait_for(ws.recv(), 10)
                latencies.append((time.perf_counter() - started) * 1000)

    began = time.monotonic()
    await asyncio.gather(*(client() for _ in range(connections)))
    elapsed = time.monotonic() - began
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "rps": len(latencies) / elapsed,
        "p50": quantiles[49],
        "p90": quantiles[89],
        "p99": quantiles[98],
        "non_2xx": 0,
    }


def bench_credentials(env: dict[str, str]) -> tuple[str, str]:
    """A session cookie (WebSocket clients) and an access token, made through Django itself."""
    script = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from django.test import Client\n"
        "from accounts.services import login_session_start, user_ensure\n"
        "user, _ = user_ensure(username='bench', email='bench@bench.localhost', "
        "password='bench-password-unused')\n"
        "client = Client(); client.force_login(user)\n"
        "print(f'{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}')\n"
        "print(login_session_start(user=user, ip='127.0.0.1').access_token)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    cookie, access_token = result.stdout.strip().splitlines()[-2:]
    return cookie, access_token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    wrk = ensure_wrk()
    env = server_env()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )
    cookie, access_token = bench_credentials(env)
    bearer = (f"Authorization: Bearer {access_token}",)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    rows: list[tuple[str, dict[str, float]]] = []
    try:
        wait_until_up(base_url, server)
        for label, path, authenticated in HTTP_TARGETS:
            headers = bearer if authenticated else ()
            rows.append(
                (label, run_wrk(wrk, base_url + path, args.connections, args.seconds, headers))
            )
        ws = asyncio.run(
            websocket_round_trips(
                base_url.replace("http", "ws") + "/ws/v1/", cookie, args.connections, args.seconds
            )
        )
        rows.append(("websocket ping round trip", ws))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)

    backend = "PostgreSQL" if env["DATABASE_URL"].startswith("postgres") else "SQLite"
    redis = "Redis" if env.get("REDIS_URL") else "embedded (no Redis)"
    print(
        f"\nAgora bench: {backend}, {redis}; "
        f"{args.connections} concurrent clients, {args.seconds} s each"
    )
    print(f"{'target':<30}{'req/s':>10}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    for label, row in rows:
        print(
            f"{label:<30}{row['rps']:>10.0f}{row['p50']:>10.1f}{row['p90']:>10.1f}"
            f"{row['p99']:>10.1f}{row['non_2xx']:>10}"
        )


if __name__ == "__main__":
    main()
