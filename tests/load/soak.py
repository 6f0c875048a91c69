"""`make soak`: the user journey at a steady rate while a chaos script breaks things, then the
checker (tests/load/check.py).

    python -m tests.load.soak [--minutes 20] [--users 20] [--pacing 2] [--keep]

Everything runs on services of the soak's own, so a restart touches nobody else: a PostgreSQL
cluster made with initdb in a temporary directory on a free port (the newest server binaries
of /usr/lib/postgresql/*/bin; as root, run as the `postgres` user), a redis-server on a free
port (its data saved on a graceful stop, as a production Redis with RDB snapshots does), and
`manage.py serve` with production settings (2 uvicorn processes, a prefork Celery worker,
beat). Locust runs --users users, each starting a task every --pacing seconds, for --minutes.
At set shares of the run the chaos script:

- 25 %: kill -9 a Celery worker (its whole process group: the main process and its children);
  `serve` starts a new one (its restart with backoff);
- 45 %: stops Redis (SIGTERM), waits --redis-down seconds, starts it again;
- 65 %: stops PostgreSQL (`pg_ctl stop -m fast`), waits --postgres-down seconds, starts it;
- 80 %: kill -9 a Celery worker again.

The RSS of every process of the server's tree is sampled every 5 s. After the load, the soak
waits (at most 3 minutes) for the accepted jobs to end, then checks: writes and their audit
records, the audit chain, jobs, statuses against the outage windows, sockets, memory after
warm-up (the first 20 % of the run, at least 60 s). Exits non-zero on any problem. Killed if
it runs past its time bound.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import suppress
from pathlib import Path

import psycopg

from tests.load import check
from tests.load.run import print_report, print_stats, run_locust, settled_facts
from tests.load.stack import (
    PostgresCluster,
    RedisServer,
    free_port,
    manage,
    process_role,
    rss_bytes,
    serve,
    server_env,
    stop_process,
    tree_pids,
    worker_pids,
)

SAMPLE_SECONDS = 5


class Chaos:
    """Runs the faults at their times; records the windows in which a dependency was down."""

    def __init__(self, server: subprocess.Popen[bytes], pg: PostgresCluster, redis: RedisServer):
        self.server, self.pg, self.redis = server, pg, redis
        self.outages: list[tuple[float, float]] = []
        self.log: list[str] = []
        self.stopping = threading.Event()

    def note(self, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} chaos: {text}"
        self.log.append(line)
        print(line, flush=True)

    def kill_worker(self) -> None:
        """kill -9 a worker's process group, once a job is running (within 30 s), so the kill
        costs a job its attempt."""
        deadline = time.monotonic() + 30
        with psycopg.connect(self.pg.url, autocommit=True) as connection:
            while (
                time.monotonic() < deadline
                and not connection.execute(
                    "SELECT 1 FROM tasks_job WHERE status = 'running' LIMIT 1"
                ).fetchone()
            ):
                time.sleep(0.05)
        pids = worker_pids(self.server.pid)
        if not pids:
            self.note("no Celery worker to kill")
            return
        children = [p for p in tree_pids(pids[0]) if p != pids[0]]
        with suppress(ProcessLookupError):
            os.killpg(pids[0], signal.SIGKILL)
        self.note(f"kill -9 Celery worker {pids[0]} and its children {children}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self.stopping.is_set():
            fresh = [pid for pid in worker_pids(self.server.pid) if pid != pids[0]]
            if fresh:
                self.note(f"serve started a new worker {fresh[0]}")
                return
            time.sleep(0.5)
        self.note("no new worker within 60 s")

    def restart(self, what: str, down: float) -> None:
        service = self.redis if what == "Redis" else self.pg
        began = time.time()
        service.stop()
        self.note(f"{what} stopped; down for {down:.0f} s")
        self.stopping.wait(down)
        service.start()
        self.outages.append((began, time.time()))
        self.note(f"{what} started again ({time.time() - began:.1f} s after the stop began)")

    def run(self, plan: list[tuple[float, str]], args: argparse.Namespace) -> None:
        began = time.monotonic()
        for at, fault in plan:
            if self.stopping.wait(max(0.0, began + at - time.monotonic())):
                return
            try:
                if fault == "worker":
                    self.kill_worker()
                elif fault == "redis":
                    self.restart("Redis", args.redis_down)
                else:
                    self.restart("PostgreSQL", args.postgres_down)
            except Exception as error:  # the soak goes on; the report says what failed
                self.note(f"{fault} fault failed: {error!r}")


def sample_memory(server_pid: int, samples: list[dict], stopping: threading.Event) -> None:
    while not stopping.wait(SAMPLE_SECONDS):
        now = time.time()
        for pid in tree_pids(server_pid):
            role, rss = process_role(pid), rss_bytes(pid)
            if role and rss:
                samples.append({"t": now, "pid": pid, "role": role, "rss": rss})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=float, default=2)
    parser.add_argument("--pacing", type=float, default=2, help="seconds between a user's tasks")
    parser.add_argument("--redis-down", type=float, default=5)
    parser.add_argument("--postgres-down", type=float, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the run's directory")
    args, extra = parser.parse_known_args()
    seconds = int(args.minutes * 60)
    plan = [
        (0.25 * seconds, "worker"),
        (0.45 * seconds, "redis"),
        (0.65 * seconds, "postgres"),
        (0.80 * seconds, "worker"),
    ]

    workdir = Path(tempfile.mkdtemp(prefix="agora-soak-"))
    (workdir / "mail").mkdir()
    os.chmod(workdir, 0o755)  # noqa: S103 (the postgres user reaches its cluster's directory)
    pg = PostgresCluster(workdir / "pg")
    redis = RedisServer(workdir / "redis")
    server = None
    samples: list[dict] = []
    report: check.Report | None = None
    stopping = threading.Event()
    print(f"soak: {args.minutes:g} min, {args.users} users, run directory {workdir}", flush=True)
    try:
        pg.create()
        redis.start()
        env = server_env(database_url=pg.url, redis_url=redis.url, mail_dir=workdir / "mail")
        manage(env, "migrate", "--noinput", "-v", "0")
        port = free_port()
        server = serve(env, port, workdir / "server.log")
        sampler = threading.Thread(
            target=sample_memory, args=(server.pid, samples, stopping), daemon=True
        )
        sampler.start()
        chaos = Chaos(server, pg, redis)
        load_began = time.time()
        chaos_thread = threading.Thread(target=chaos.run, args=(plan, args), daemon=True)
        chaos_thread.start()
        status = run_locust(
            host=f"http://127.0.0.1:{port}",
            workdir=workdir,
            env=env,
            users=args.users,
            spawn_rate=args.spawn_rate,
            seconds=seconds,
            extra=extra,
            pacing=args.pacing,
        )
        chaos.stopping.set()
        chaos_thread.join(timeout=60)
        print(f"locust exited {status} after {time.time() - load_began:.0f} s", flush=True)
        bad = print_stats(workdir)
        records = check.read_records(workdir / "record.jsonl")
        facts = settled_facts(env, records)
        stopping.set()
        report = check.check_all(
            records,
            facts,
            outages=chaos.outages,
            samples=samples,
            warm_up_until=load_began + max(60.0, 0.2 * seconds),
        )
        report.figures["chaos"] = "; ".join(line.split("chaos: ")[1] for line in chaos.log)
        report.figures["server exited"] = server.poll()
        print_report(report)
        (workdir / "report.json").write_text(
            json.dumps({"problems": report.problems, "figures": report.figures}, indent=1)
        )
        print(f"{len(bad)} kinds of failed step above; the check judges them against the outages")
    finally:
        stopping.set()
        stop_process(server, sig=signal.SIGINT)
        redis.stop()
        pg.destroy()
    if report is None or report.problems:
        print(f"kept {workdir}")
        sys.exit(f"soak failed: {len(report.problems) if report else 'no'} problems (report)")
    if args.keep:
        print(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
