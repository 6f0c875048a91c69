"""`make loadtest`: the user journey (tests/load/locustfile.py) against a server of its own.

    python -m tests.load.run [--users 20] [--spawn-rate 2] [--time 60] [locust options…]

Starts `manage.py serve` on a free port of 127.0.0.1 with production settings and the services
of DATABASE_URL / REDIS_URL (give it a database of its own: the run adds users and posts), or,
when DATABASE_URL is unset, the embedded stack on a fresh SQLite file in a temporary directory.
Mail goes to files there (EMAIL_URL=filemail://…), where the virtual users read their
verification tokens. Locust runs headless for --time seconds (killed if it overruns by more
than a minute), the server is stopped, Locust's per-step figures are printed (its CSV files are
kept in the run's directory), and tests/load/check.py checks the writes, jobs, statuses and
sockets. Exits non-zero when any request failed other than with a documented 429, or the check
found anything.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.load import check
from tests.load.stack import BASE_DIR, free_port, manage, serve, server_env, stop_process

LOCUSTFILE = BASE_DIR / "tests" / "load" / "locustfile.py"
OVERRUN_SECONDS = 60
JOB_SETTLE_SECONDS = 180


def run_locust(
    *,
    host: str,
    workdir: Path,
    env: dict[str, str],
    users: int,
    spawn_rate: float,
    seconds: int,
    extra: list[str],
    pacing: float = 0.0,
) -> int:
    """Locust headless for `seconds` (plus its stop timeout); killed if it overruns."""
    locust_env = {
        **os.environ,
        "LOAD_RECORD": str(workdir / "record.jsonl"),
        "LOAD_MAIL_DIR": str(workdir / "mail"),
        "LOAD_PACING": str(pacing),
    }
    locust_env.pop("DATABASE_URL", None)
    argv = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host,
        "--users", str(users), "--spawn-rate", str(spawn_rate), "--run-time", f"{seconds}s",
        "--stop-timeout", "15", "--csv", str(workdir / "locust"), "--only-summary",
        "--loglevel", "WARNING", *extra,
    ]  # fmt: skip
    process = subprocess.Popen(argv, cwd=BASE_DIR, env=locust_env, start_new_session=True)
    try:
        return process.wait(timeout=seconds + OVERRUN_SECONDS + 120)  # + the journey's set-up
    except subprocess.TimeoutExpired:
        print("locust overran its time bound: killed", file=sys.stderr)
        stop_process(process, sig=signal.SIGINT)
        return 1


def print_stats(workdir: Path) -> list[str]:
    """Locust's per-step table; returns the failures that are not a documented 429."""
    with (workdir / "locust_stats.csv").open() as stats:
        rows = list(csv.DictReader(stats))
    print(f"\n{'step':46} {'reqs':>6} {'fails':>6} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6}")
    for row in rows:
        name = f"{row['Type']} {row['Name']}".strip()
        print(
            f"{name[:46]:46} {row['Request Count']:>6} {row['Failure Count']:>6} "
            f"{float(row['Requests/s']):7.2f} {row['50%']:>6} {row['95%']:>6} {row['99%']:>6}"
        )
    print("(latencies in ms)")
    bad = []
    with (workdir / "locust_failures.csv").open() as failures:
        for row in csv.DictReader(failures):
            line = f"{row['Occurrences']} x {row['Method']} {row['Name']}: {row['Error']}"
            print("failure:", line)
            if not row["Error"].startswith("documented 429"):
                bad.append(line)
    exceptions = workdir / "locust_exceptions.csv"
    if exceptions.exists():
        with exceptions.open() as rows_file:
            for row in csv.DictReader(rows_file):
                bad.append(f"exception in the journey: {row}")
    return bad


def database_facts(env: dict[str, str], records: list[dict]) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "tests.load.facts"],
        cwd=BASE_DIR,
        env=env,
        input=json.dumps(check.facts_request(records)),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(result.stdout)


def settled_facts(env: dict[str, str], records: list[dict]) -> dict:
    """The database's facts once every accepted job has ended (or JOB_SETTLE_SECONDS passed),
    asked while the server (and its worker) still runs."""
    deadline = time.monotonic() + JOB_SETTLE_SECONDS
    while True:
        facts = database_facts(env, records)
        active = [job for job in facts["jobs"].values() if job["status"] in ("queued", "running")]
        if not active or time.monotonic() > deadline:
            return facts
        print(f"waiting for {len(active)} jobs to end", flush=True)
        time.sleep(10)


def print_report(report: check.Report) -> None:
    print("\ncheck:")
    for name, value in report.figures.items():
        if isinstance(value, dict) and value and all(isinstance(v, str) for v in value.values()):
            print(f"  {name}:")
            for key, line in value.items():
                print(f"    {key}: {line}")
        else:
            print(f"  {name}: {value}")
    for problem in report.problems[:50]:
        print("  PROBLEM:", problem)
    if len(report.problems) > 50:
        print(f"  … and {len(report.problems) - 50} more problems")
    print("  nothing lost, nothing wrong" if not report.problems else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=float, default=2)
    parser.add_argument("--time", type=int, default=60, help="seconds of load")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory")
    args, extra = parser.parse_known_args()

    workdir = Path(tempfile.mkdtemp(prefix="agora-load-"))
    (workdir / "mail").mkdir()
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{workdir / 'load.sqlite3'}"
    env = server_env(
        database_url=database_url,
        redis_url=os.environ.get("REDIS_URL") if os.environ.get("DATABASE_URL") else None,
        mail_dir=workdir / "mail",
    )
    print(f"run directory {workdir}; database {database_url.split('@')[-1]}")
    server = None
    try:
        manage(env, "migrate", "--noinput", "-v", "0")
        port = free_port()
        server = serve(env, port, workdir / "server.log")
        began = time.time()
        status = run_locust(
            host=f"http://127.0.0.1:{port}",
            workdir=workdir,
            env=env,
            users=args.users,
            spawn_rate=args.spawn_rate,
            seconds=args.time,
            extra=extra,
        )
        print(f"locust exited {status} after {time.time() - began:.0f} s")
        bad = print_stats(workdir)
        records = check.read_records(workdir / "record.jsonl")
        report = check.check_all(records, settled_facts(env, records))
    finally:
        stop_process(server, sig=signal.SIGINT)
    print_report(report)
    if not args.keep and not bad and not report.problems:
        shutil.rmtree(workdir, ignore_errors=True)
    if bad or report.problems:
        sys.exit(f"load test failed: {len(bad)} failed steps, {len(report.problems)} problems")


if __name__ == "__main__":
    main()
