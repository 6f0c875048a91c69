"""Stop the database under load, start it again, and report what clients saw and what was kept.

    DATABASE_URL=postgres://postgres@127.0.0.1:5499/agora_outage \\
    python -m tests.perf.outage --stop "pg_ctlcluster 15 outage stop -m fast" \\
        --start "pg_ctlcluster 15 outage start"

Give it a database of its own on a PostgreSQL cluster of its own: the stop command really
stops that server (docs/operations.md, "When the database goes away", says how to make one).
The script migrates the database, makes a user, starts `manage.py serve` with production
settings (REDIS_URL as in the environment), and runs `--clients` client threads on 127.0.0.1
that each repeat a bearer read (`GET /users/me`), an uncached anonymous list
(`GET /posts?limit=5`) and a write (`POST /posts`), plus a probe thread polling `/health/db`
and `/health/ready`. After `--before` seconds it runs the stop command, `--down` seconds later
the start command, and it goes on for `--after` seconds; a watcher notes when the database
accepts connections again. Then it prints per phase the answers by status and their latency,
how long after the database was back each kind answered 2xx again, and how many acknowledged
writes (201) are in the database. Everything is bounded in time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass

import psycopg

from tests.perf.run import BASE_DIR, free_port, manage, python_output, server_env

CLIENT_TIMEOUT_SECONDS = 30
PROBE_INTERVAL_SECONDS = 0.5
KINDS = ("read", "list", "write")
PROBES = ("/health/db", "/health/ready")

MAKE_TOKEN = """
import django; django.setup()
from accounts.models import Role, User
from accounts.services import login_session_start
user = User.objects.filter(username="outage").first()
if user is None:
    user = User.objects.create_user(
        username="outage", email="outage@example.org", password=None,
        role=Role.USER, email_verified=True,
    )
print(login_session_start(user=user).access_token)
"""


@dataclass
class Answer:
    kind: str
    sent: float  # seconds since the run began
    latency: float
    status: int  # 0: no answer (connection error or client timeout)
    post_id: str | None = None


class Recorder:
    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.lock = threading.Lock()
        self.running = True
        self.began = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.began

    def add(self, answer: Answer) -> None:
        with self.lock:
            self.answers.append(answer)


def _request(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes | None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT_SECONDS)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _client(recorder: Recorder, port: int, token: str, number: int) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    sequence = 0
    while recorder.running:
        kind = KINDS[sequence % len(KINDS)]
        sequence += 1
        if kind == "read":
            call = ("GET", "/api/v1/users/me", auth, None)
        elif kind == "list":
            call = ("GET", "/api/v1/posts?limit=5", {}, None)
        else:
            body = json.dumps({"title": f"outage {number}-{sequence}", "status": "published"})
            call = ("POST", "/api/v1/posts", {**auth, "Content-Type": "application/json"}, body)
        sent = recorder.now()
        started = time.monotonic()
        try:
            status, raw = _request(port, call[0], call[1], call[2], call[3] and call[3].encode())
        except OSError:
            status, raw = 0, b""
        latency = time.monotonic() - started
        post_id = json.loads(raw)["id"] if kind == "write" and status == 201 else None
        recorder.add(Answer(kind, sent, latency, status, post_id))


def _prober(recorder: Recorder, port: int) -> None:
    while recorder.running:
        for path in PROBES:
            sent = recorder.now()
            started = time.monotonic()
            try:
                status, _ = _request(port, "GET", path, {}, None)
            except OSError:
                status = 0
            recorder.add(Answer(path, sent, time.monotonic() - started, status))
        time.sleep(PROBE_INTERVAL_SECONDS)


def _watch_database(recorder: Recorder, url: str, up_again: list[float], after: float) -> None:
    """Record when the database accepts a connection again, tried every 0.1 s."""
    while recorder.running and not up_again:
        tried = recorder.now()
        try:
            with psycopg.connect(url, connect_timeout=2):
                if tried >= after:
                    up_again.append(tried)
        except psycopg.OperationalError:
            pass
        time.sleep(0.1)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _report_phase(name: str, answers: list[Answer]) -> None:
    print(f"\n{name}: {len(answers)} answers")
    for kind in (*KINDS, *PROBES):
        mine = [answer for answer in answers if answer.kind == kind]
        if not mine:
            continue
        latencies = [answer.latency * 1000 for answer in mine]
        statuses = ", ".join(
            f"{status or 'none'}x{count}"
            for status, count in sorted(Counter(a.status for a in mine).items())
        )
        print(
            f"  {kind:14} {statuses:28} ms p50 {_percentile(latencies, 0.5):7.1f}  "
            f"p99 {_percentile(latencies, 0.99):7.1f}  max {max(latencies):7.1f}"
        )


def _shell(command: str) -> float:
    """Run `command`; return how long it took."""
    started = time.monotonic()
    subprocess.run(shlex.split(command), check=True, timeout=120)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stop", required=True, help="command that stops the database")
    parser.add_argument("--start", required=True, help="command that starts it again")
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--before", type=float, default=5)
    parser.add_argument("--down", type=float, default=15)
    parser.add_argument("--after", type=float, default=20)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("DATABASE_URL must name a PostgreSQL database of its own (see the doc above)")

    env = server_env()
    manage(env, "migrate", "--noinput", "-v", "0")
    token = python_output(env, MAKE_TOKEN, timeout=60)[-1]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=BASE_DIR,
        env=env,
        start_new_session=True,
    )
    try:
        _wait_ready(port)
        recorder = Recorder()
        threads = [
            threading.Thread(target=_client, args=(recorder, port, token, n), daemon=True)
            for n in range(args.clients)
        ]
        threads.append(threading.Thread(target=_prober, args=(recorder, port), daemon=True))
        for thread in threads:
            thread.start()
        time.sleep(args.before)
        stop_began = recorder.now()
        _shell(args.stop)
        stopped = recorder.now()
        up_again: list[float] = []
        watcher = threading.Thread(
            target=_watch_database, args=(recorder, env["DATABASE_URL"], up_again, stopped)
        )
        watcher.start()
        time.sleep(args.down)
        start_began = recorder.now()
        _shell(args.start)
        started = recorder.now()
        time.sleep(args.after)
        recorder.running = False
        for thread in [*threads, watcher]:
            thread.join(CLIENT_TIMEOUT_SECONDS + 5)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    answers = sorted(recorder.answers, key=lambda answer: answer.sent)
    database_up = up_again[0] if up_again else started
    print(
        f"\nstop command {stop_began:.1f}-{stopped:.1f} s, start command "
        f"{start_began:.1f}-{started:.1f} s, database accepting connections again at "
        f"{database_up:.1f} s (times since the load began)"
    )
    _report_phase("before the stop", [a for a in answers if a.sent < stop_began])
    _report_phase("stopping", [a for a in answers if stop_began <= a.sent < stopped])
    _report_phase("down", [a for a in answers if stopped <= a.sent < database_up])
    _report_phase("up again", [a for a in answers if a.sent >= database_up])
    print("\nrecovery, from the moment the database accepted connections again:")
    for kind in (*KINDS, *PROBES):
        after = [a for a in answers if a.kind == kind and a.sent >= database_up]
        first_ok = next((a for a in after if 200 <= a.status < 300), None)
        failing = [a for a in after if not 200 <= a.status < 300]
        print(
            f"  {kind:14} first 2xx answered after "
            f"{_fmt(first_ok and first_ok.sent + first_ok.latency - database_up)}, "
            f"last non-2xx sent after {_fmt(failing[-1].sent - database_up if failing else None)}"
        )
    acknowledged = [a.post_id for a in answers if a.post_id]
    with psycopg.connect(env["DATABASE_URL"]) as connection:
        present = connection.execute(
            "SELECT count(*) FROM content_post WHERE id = ANY(%s::uuid[])", [acknowledged]
        ).fetchone()[0]
    others = Counter(a.status for a in answers if a.status >= 500 and a.status != 503)
    print(
        f"\nwrites acknowledged (201): {len(acknowledged)}; of them in the database: {present}"
        f"\nanswers other than 2xx/503 with status >= 500: {dict(others) or 'none'}; "
        f"no answer at all: {sum(1 for a in answers if a.status == 0)}"
    )


def _fmt(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.2f} s"


def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _request(port, "GET", "/health/ready", {}, None)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not become ready within 60 s")


if __name__ == "__main__":
    main()
