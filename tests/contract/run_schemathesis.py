"""Schemathesis against the real server: the OpenAPI document must describe what it does.

    python -m tests.contract.run_schemathesis                 # embedded (SQLite)
    python -m tests.contract.run_schemathesis \\
        --postgres postgres://postgres@127.0.0.1:5432/agora_contract     # CI: PostgreSQL

Starts `manage.py serve` on 127.0.0.1 on a free port against a throwaway database (a SQLite
file in a temporary directory, or a PostgreSQL database `<name>_<random>` created for the run
and dropped after it), migrates it, loads the demo data so that lists have rows, creates
verified members (role `user`) and logs them in over the API. The AI assistant's provider is
a local fake one (tests/tasks/fake_openai.py), so `POST ai/chat` answers its replies, whole and
streamed, rather than only its 503. Then schemathesis fuzzes every
operation of `/api/schema/` with a member's bearer token and these checks:

- not_a_server_error: no 5xx;
- status_code_conformance: only statuses the operation documents;
- content_type_conformance, response_schema_conformance: the answer is what the document
  says, headers and body.

Every run has a time budget (`--max-time`; fuzzing and stateful testing go on until it is
spent), so the whole takes about three minutes whatever the machine. Exits non-zero on any
failure, and prints the server's log then. Only 127.0.0.1 is contacted.

A member's access token would die for good if the fuzzer ended its own login, and every later
request would be a 401 that checks nothing. So the main run leaves out the two operations that
end the caller's login whatever the body says: `POST auth/logout-all`, and
`DELETE auth/sessions/{session_id}` (the stateful phase finds the current login's id in
`GET auth/sessions`). Each is fuzzed afterwards in a run of its own, as a member of its own,
so that ending the login is exercised too (the later requests of that run get the documented
401). `POST auth/password-change` and `POST auth/logout` also end logins, but only with the
member's password or refresh token, which the fuzzer never has: they stay in the main run.

With `--checks` adding positive_data_acceptance and negative_data_rejection, schemathesis also
reports where the document's input constraints and the server's differ. What is left there no
OpenAPI 3.0 document can say, so CI does not run those two checks:

- rules across parameters: `cursor` with `pagination=offset`, `offset` with cursor pages;
  `refresh_token` in the body unless the refresh cookie is sent; no `ordering` field twice;
- rules across fields: an audit event's `action` starts with its `target_type`;
- what needs the server's state: tokens (verification, reset, refresh), the current password,
  ids that exist, a `parent` on the same post, common passwords or ones like the username, an
  admin changing their own role;
- an empty query parameter counts as absent (django-filter), and DRF reads a number sent for a
  text field as its digits;
- the printable-text rule refuses unassigned code points and format or private-use characters
  beyond U+FFFF too; the `pattern` lists the rest (accounts.validators), the description says
  so; a username's letters are Unicode's, which an ECMA-262 `\\w` is not.

A member gets only 403s from the admin operations (audits, the user list, role changes, the
jobs' dead letters and requeue); a last run fuzzes them as an administrator, so that their
answers are checked too. It comes last because it may deactivate the other runs' members.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from config.management.commands.serve import wait_until_answering
from tests.live import free_port
from tests.tasks.fake_openai import FakeOpenAI

BASE_DIR = Path(__file__).resolve().parents[2]
CONFIG_FILE = Path(__file__).resolve().with_name("schemathesis.toml")
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
LOGIN_ENDING = ("POST /api/v1/auth/logout-all", "DELETE /api/v1/auth/sessions/{session_id}")
ADMIN_ONLY = (
    "GET /api/v1/audits",
    "POST /api/v1/audits",
    "GET /api/v1/audits/{record_id}",
    "PUT /api/v1/audits/{record_id}",
    "PATCH /api/v1/audits/{record_id}",
    "DELETE /api/v1/audits/{record_id}",
    "GET /api/v1/users",
    "PATCH /api/v1/users/{user_id}",
    "GET /api/v1/jobs/dead-letters",
    "POST /api/v1/jobs/{job_id}/requeue",
)


@dataclass(frozen=True)
class Run:
    """One schemathesis run, as a member of its own (`role`); operations by name."""

    name: str
    seconds: int
    role: str = "user"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


RUNS = (
    Run("main", 95, exclude=LOGIN_ENDING),
    Run("sessions", 10, include=("GET /api/v1/auth/sessions", LOGIN_ENDING[1])),
    Run("logout-all", 6, include=LOGIN_ENDING[:1]),
    Run("admin", 20, role="admin", include=ADMIN_ONLY),
)

# Loads the demo data and creates the members; run by `manage.py shell` in the run's
# environment. CONTRACT_MEMBERS is "username:role,…".
CREATE_MEMBERS = """
import os
from accounts.services import user_ensure
from django.core.management import call_command

call_command("seed_demo", verbosity=0)
for member in os.environ["CONTRACT_MEMBERS"].split(","):
    username, role = member.split(":")
    user_ensure(
        username=username,
        email=f"{username}@contract.agora.localhost",
        password=os.environ["CONTRACT_PASSWORD"],
        role=role,
        display_name="Schemathesis Müller",
    )
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="PostgreSQL URL whose database name, with a random suffix, names a database "
        "created for the run and dropped after it. Default: a SQLite file in a temporary "
        "directory.",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="Multiplies every run's time budget (default 1: about three minutes in all).",
    )
    parser.add_argument(
        "--max-examples",
        type=int,
        default=50,
        help="Test cases per operation and phase in one pass (default 50).",
    )
    parser.add_argument(
        "--checks",
        default=",".join(CHECKS),
        help="Schemathesis checks (default: the four above). Adding positive_data_acceptance "
        "and negative_data_rejection shows where the document's input constraints and the "
        "server's differ; some of that no OpenAPI 3.0 document can say (module docstring).",
    )
    parser.add_argument(
        "--seed", type=int, help="Hypothesis seed, to replay a run (default: a new one, printed)."
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        help="Keep schemathesis' reports (JUnit, NDJSON) and the server log here.",
    )
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    started = time.monotonic()
    code = 0
    with tempfile.TemporaryDirectory(prefix="agora-contract-") as tmp:
        workdir = Path(tmp)
        report_dir = args.report_dir or workdir / "reports"
        report_dir.mkdir(parents=True, exist_ok=True)
        with (
            throwaway_database(args.postgres, workdir) as database_url,
            FakeOpenAI() as provider,
        ):
            env = {**server_env(database_url), "OPENAI_BASE_URL": provider.url}
            password = secrets.token_urlsafe(24)
            members = {run.name: (f"schemathesis-{run.name}", run.role) for run in RUNS}
            prepare(env, members.values(), password)
            with live_server(env, report_dir / "server.log") as base_url:
                # Every login first: the fuzzer's failed ones at `auth/token` soon lock this
                # client address out of logging in (429 `account_locked`, as documented).
                tokens = {
                    name: login(base_url, username, password)
                    for name, (username, _) in members.items()
                }
                for run in RUNS:
                    seconds = max(1, round(run.seconds * args.time_scale))
                    command = schemathesis_command(
                        run,
                        base_url,
                        tokens[run.name],
                        seconds,
                        args,
                        seed,
                        report_dir,
                    )
                    print(f"\n==> schemathesis: {run.name} ({seconds} s)", flush=True)
                    # In the temporary directory: nothing it writes lands next to the code.
                    code |= subprocess.run(
                        command,
                        cwd=workdir,
                        check=False,
                    ).returncode
            if code:
                print_server_log(report_dir / "server.log")
    print(f"\nschemathesis: {'FAILED' if code else 'passed'} in {time.monotonic() - started:.0f} s")
    print(f"(seed {seed}: rerun with --seed {seed})")
    return 1 if code else 0


@contextmanager
def throwaway_database(postgres_url: str | None, workdir: Path) -> Iterator[str]:
    if not postgres_url:
        yield f"sqlite:///{workdir / 'contract.sqlite3'}"
        return
    import psycopg
    from psycopg import sql

    parts = urlsplit(postgres_url)
    prefix = parts.path.lstrip("/")
    if not prefix:
        raise SystemExit("--postgres needs a database name in the URL")
    # A fresh name every run: one left behind by a killed run never blocks the next.
    name = f"{prefix}_{secrets.token_hex(4)}"
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def server_env(database_url: str) -> dict[str, str]:
    """The server's environment: the test settings (fast password hashing, e-mail kept in
    memory, rate limits out of reach so that 429s do not hide the other checks) on the given
    database, without Redis (worker and beat in-process), and access tokens that outlive the
    run."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DJANGO_ENV": "test",
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_urlsafe(64),
            "EMBEDDED_WORKER": "true",
            "JWT_ACCESS_MINUTES": "60",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def prepare(env: dict[str, str], members: Iterable[tuple[str, str]], password: str) -> None:
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=BASE_DIR, env=env, check=True)
    subprocess.run(
        [*manage, "shell", "-v", "0", "-c", CREATE_MEMBERS],
        cwd=BASE_DIR,
        env={
            **env,
            "CONTRACT_MEMBERS": ",".join(f"{name}:{role}" for name, role in members),
            "CONTRACT_PASSWORD": password,
        },
        check=True,
    )


@contextmanager
def live_server(env: dict[str, str], log_path: Path) -> Iterator[str]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            answering = wait_until_answering(
                f"{base_url}/health",
                timeout=START_TIMEOUT_SECONDS,
                give_up=lambda: process.poll() is not None,
            )
            if not answering:
                print_server_log(log_path)
                raise SystemExit("the server did not start")
            yield base_url
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def login(base_url: str, username: str, password: str) -> str:
    """An access token from the password grant, as any client gets one."""
    body = {"grant_type": "password", "username": username, "password": password}
    request = urllib.request.Request(
        f"{base_url}/api/v1/auth/token",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["access_token"]


def schemathesis_command(
    run: Run,
    base_url: str,
    token: str,
    seconds: int,
    args: argparse.Namespace,
    seed: int,
    report_dir: Path,
) -> list[str]:
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG_FILE),
        "run", f"{base_url}/api/schema/", "--url", base_url,
        "--checks", args.checks,
        "--max-time", str(seconds),
        "--max-examples", str(args.max_examples),
        "--seed", str(seed),
        "--continue-on-failure",
        # One worker: with more, hypothesis parses lambdas' source in several threads at once,
        # which trips CPython 3.11's ast.parse ("AST constructor recursion depth mismatch").
        "--workers", "1",
        "--header", f"Authorization: Bearer {token}",
        "--report", "junit,ndjson",
        "--report-junit-path", str(report_dir / f"{run.name}.junit.xml"),
        "--report-ndjson-path", str(report_dir / f"{run.name}.ndjson"),
    ]  # fmt: skip
    for option, operations in (("include", run.include), ("exclude", run.exclude)):
        for operation in operations:
            command += [f"--{option}-name", operation]
    return command


def print_server_log(log_path: Path) -> None:
    text = log_path.read_text(errors="replace")
    if text.strip():
        print("\n==> server log", file=sys.stderr)
        print(text[-20000:], file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
