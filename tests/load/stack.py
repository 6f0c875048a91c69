"""The processes of a load run: a PostgreSQL cluster and a redis-server of the run's own, the
server (`manage.py serve`) and Locust; each started in a session of its own, stopped (and killed
if it lingers) by the one who started it. Only 127.0.0.1, every wait bounded."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
STOP_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen[bytes] | None, *, sig: int = signal.SIGTERM) -> None:
    """Signal the process (its whole session), wait, then SIGKILL the session if it lingers."""
    if process is None or process.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_for(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(Exception):
            if check():
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready within {timeout:.0f} s")


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=3) as response:  # 127.0.0.1 only
        return response.status == 200


def _as_postgres(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class PostgresCluster:
    """A throwaway cluster in `directory` on its own port: restarting it touches nobody else."""

    directory: Path
    port: int = field(default_factory=free_port)

    @property
    def bin(self) -> Path:
        versions = sorted(
            glob.glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(path.split("/")[4])
        )
        if not versions:
            raise RuntimeError("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin")
        return Path(versions[-1])

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/agora_soak"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"), *args]),
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
        )

    def create(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.directory / "data"),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
        )
        self.start()
        createdb = [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port)]
        subprocess.run(
            _as_postgres([*createdb, "-U", "postgres", "agora_soak"]),
            check=True,
            timeout=60,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c max_connections=200 -c shared_buffers=64MB"
        )
        self._ctl("-o", options, "-l", str(self.directory / "postgres.log"), "-w", "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        with suppress(Exception):
            self._ctl("-m", "immediate", "-w", "stop")


@dataclass
class RedisServer:
    """A redis-server of the run's own; a graceful stop saves its data (RDB) for the restart."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "60 1",
                "--appendonly",
                "no",
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            start_new_session=True,
        )
        wait_for(self._pong, timeout=30, what="redis-server")

    def _pong(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        stop_process(self.process)

    def restart(self) -> None:
        self.stop()
        self.start()


def server_env(*, database_url: str | None, redis_url: str | None, mail_dir: Path) -> dict:
    """The server's environment: production settings on 127.0.0.1, mail written to files."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(
        DJANGO_ENV="production",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        LOG_LEVEL="WARNING",
        DEBUG="false",
        EMAIL_URL=f"filemail://{mail_dir}",
        SITE_URL="http://127.0.0.1",
    )
    # Every virtual user connects from 127.0.0.1: one address for all of them. The limiter still
    # counts (its cost is part of the load); the per-address auth limit (30/min) would otherwise
    # refuse nearly every sign-up. LOADTEST_KEEP_RATE_LIMITS=1 keeps the defaults (then expect
    # documented 429s, which the runs accept).
    if not os.environ.get("LOADTEST_KEEP_RATE_LIMITS"):
        for scope in ("ANON", "GUEST", "USER", "ADMIN", "AUTH"):
            env.setdefault(f"RATE_LIMIT_{scope}", "100000000/min")
    return env


def manage(env: dict, *args: str, timeout: float = 600) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True, timeout=timeout
    )


def serve(env: dict, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`manage.py serve` (web, and worker and beat with Redis) on 127.0.0.1:`port`."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(
            lambda: process.poll() is None and http_ok(f"http://127.0.0.1:{port}/health/ready"),
            timeout=90,
            what="the server",
        )
    except RuntimeError:
        stop_process(process, sig=signal.SIGINT)
        raise
    return process


def tree_pids(pid: int) -> list[int]:
    """`pid` and all its descendants (/proc's children lists of every thread)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
    return found


def process_role(pid: int) -> str | None:
    """What a process of the server's tree is: web, worker, worker-child, beat or serve."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            argv = [part.decode(errors="replace") for part in cmdline.read().split(b"\0")]
        with open(f"/proc/{pid}/stat") as stat:
            parent = int(stat.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None
    text = " ".join(argv)
    # Celery retitles its processes (setproctitle): "[celeryd: …:MainProcess] … (-A config
    # worker)", "[celeryd: …:ForkPoolWorker-1]", "[celery beat] …".
    if "ForkPoolWorker" in text:
        return "worker-child"
    if "celery" in text and " worker" in text:
        return "worker-child" if process_role(parent) == "worker" else "worker"
    if "celery" in text and " beat" in text:
        return "beat"
    if "uvicorn" in text or "multiprocessing" in text or "daphne" in text:
        return "web"
    if "serve" in text:
        return "serve"
    return "other"


def rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None


def worker_pids(server_pid: int) -> list[int]:
    """The Celery worker main processes under `serve` (each leads a process group)."""
    return [pid for pid in tree_pids(server_pid) if process_role(pid) == "worker"]
