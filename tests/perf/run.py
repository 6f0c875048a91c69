"""`make bench`: throughput and latency percentiles of the running stack, as in production.

Starts `manage.py serve` with DJANGO_ENV=production (DEBUG off, no console access log) on the
configured database and Redis (DATABASE_URL / REDIS_URL; a SQLite file and the embedded stack
otherwise), loads the bench data set with `manage.py seed_bench` when the database has none,
drives HTTP endpoints with wrk (Debian's package; Lua scripts for random ids and POST bodies)
and WebSocket ping round trips with an asyncio client, all on 127.0.0.1, each for a bounded
time. The database must be a dedicated one: seed_bench refuses a database with other users.

Each row also reports the server's CPU per request: the user plus system time of the server's
whole process tree (web processes, Celery worker and beat, from /proc) over the run, divided by
the requests wrk counted. Unlike req/s, it hardly moves when other work shares the machine.
The login row is also given as a share of the bcrypt ceiling (cores ÷ one hash's time), and
"while logging in" rows measure a read while logins run beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
SQLITE_BENCH_DATABASE = BASE_DIR / "var" / "bench-data.sqlite3"
# SQLite loads through bulk_create, ten times slower than COPY: a tenth of the data set.
SQLITE_SCALE = ("--users", "1000", "--posts", "10000", "--comments", "100000")
LOGINS = 10
# The login target rotates over this many bench users: an account admits at most
# LOGIN_FAILURE_LIMIT attempts at once (accounts/services/lockout.py).
LOGIN_USERS = 100
LOGIN_CONNECTIONS = 10
POST_IDS = 2000
COLD_POST_IDS = 20000
SEARCH_WORD = "festival"
SEARCH_TAG = "python"


@dataclass(frozen=True)
class Target:
    label: str
    path: str
    authenticated: bool = False
    script: str | None = None  # name of a Lua script made by `write_scripts`
    warm_up: bool = False
    connections: int | None = None  # wrk's connections, when not --connections
    # Run this many times --seconds: a few requests a second need longer for a fair count.
    duration_factor: int = 1
    during_logins: bool = False  # measured while the login target runs beside it


TARGETS = (
    Target("liveness  GET /health", "/health"),
    Target("index     GET /", "/"),
    Target("database  GET /health/db", "/health/db"),
    Target("readiness GET /health/ready", "/health/ready"),
    Target("bearer    GET /api/v1/users/me", "/api/v1/users/me", authenticated=True),
    Target("cached first page GET /posts", "/api/v1/posts", warm_up=True),
    Target("anonymous GET /posts?limit=20", "/api/v1/posts?limit=20"),
    Target("bearer    GET /posts?limit=20", "/api/v1/posts?limit=20", script="bearer_list"),
    Target(
        "hot post  GET /posts/{id} (warm cache)", "/api/v1/posts", script="detail", warm_up=True
    ),
    Target("cold post GET /posts/{id} (uncached)", "/api/v1/posts", script="detail_cold"),
    Target("bearer    GET /posts/{id}", "/api/v1/posts", script="detail_bearer", warm_up=True),
    Target(
        "search    GET /posts?search&tag",
        f"/api/v1/posts?search={SEARCH_WORD}&status=published&tag={SEARCH_TAG}&limit=20",
    ),
    # Before the comment target, whose writes move many hot posts' entries on.
    Target("read-heavy mix (cache hit rate below)", "/api/v1/posts", script="mix", warm_up=True),
    Target("comment   POST /posts/{id}/comments", "/api/v1/posts", script="comment"),
    Target(
        "login     POST /auth/token (bcrypt)",
        "/api/v1/auth/token",
        script="login",
        connections=LOGIN_CONNECTIONS,
        duration_factor=3,
    ),
    Target(
        "bearer    GET /users/me, 2 clients",
        "/api/v1/users/me",
        authenticated=True,
        during_logins=True,
    ),
)

LUA_RANDOM = """
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
function init(args)
  math.randomseed(os.time() * 1000 + seed)
end
local function pick(list)
  return list[math.random(#list)]
end
"""
# A read-heavy day: mostly recent posts and the feed, some profiles, older posts and filtered
# lists, and 5 % writes (comments on recent posts, which move their cache entries on). The
# X-Cache header of every answer is counted: the hit rate over the cacheable reads.
LUA_MIX = """
hits, misses, uncached = 0, 0, 0
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("seed", #threads)
end
request = function()
  local r = math.random(100)
  if r <= 50 then return wrk.format("GET", "/api/v1/posts/" .. pick(ids)) end
  if r <= 65 then return wrk.format("GET", "/api/v1/posts") end
  if r <= 75 then return wrk.format("GET", "/api/v1/users/" .. pick(user_ids)) end
  if r <= 85 then return wrk.format("GET", "/api/v1/posts/" .. pick(cold_ids)) end
  if r <= 95 then return wrk.format("GET", "/api/v1/posts?tag=python&limit=20") end
  local headers = {
    ["Authorization"] = "Bearer " .. pick(tokens),
    ["Content-Type"] = "application/json",
  }
  return wrk.format("POST", "/api/v1/posts/" .. pick(ids) .. "/comments", headers,
    '{"body": "Mixed-load comment"}')
end
response = function(status, headers, body)
  local state = headers["x-cache"] or headers["X-Cache"]
  if state == "hit" then hits = hits + 1
  elseif state == "miss" then misses = misses + 1
  else uncached = uncached + 1 end
end
done = function(summary, latency, requests)
  local h, m, u = 0, 0, 0
  for _, thread in ipairs(threads) do
    h = h + thread:get("hits")
    m = m + thread:get("misses")
    u = u + thread:get("uncached")
  end
  io.write(string.format("cache: %d hits, %d misses, %d uncached\\n", h, m, u))
end
"""

LUA_SCRIPTS = {
    "login": """
local turn = nil
request = function()
  turn = (turn or math.random(#login_users)) + 1
  local body = '{"grant_type": "password", "username": "' .. login_users[turn % #login_users + 1]
    .. '", "password": "' .. password .. '"}'
  return wrk.format("POST", "/api/v1/auth/token", {["Content-Type"] = "application/json"}, body)
end
""",
    "bearer_list": """
request = function()
  local headers = {["Authorization"] = "Bearer " .. pick(tokens)}
  return wrk.format("GET", "/api/v1/posts?limit=20", headers)
end
""",
    "detail": """
request = function()
  return wrk.format("GET", "/api/v1/posts/" .. pick(ids))
end
""",
    "detail_bearer": """
request = function()
  local headers = {["Authorization"] = "Bearer " .. pick(tokens)}
  return wrk.format("GET", "/api/v1/posts/" .. pick(ids), headers)
end
""",
    "detail_cold": """
request = function()
  return wrk.format("GET", "/api/v1/posts/" .. pick(cold_ids))
end
""",
    "comment": """
local sequence = 0
request = function()
  sequence = sequence + 1
  local headers = {
    ["Authorization"] = "Bearer " .. pick(tokens),
    ["Content-Type"] = "application/json",
  }
  local body = '{"body": "Benchmark comment ' .. sequence .. ' about caching, ' ..
    'latency and the Müller and O\\'Brien results."}'
  return wrk.format("POST", "/api/v1/posts/" .. pick(ids) .. "/comments", headers, body)
end
""",
}


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
    env.setdefault("DATABASE_URL", f"sqlite:///{SQLITE_BENCH_DATABASE}")
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
    # address, and the bench's own logins, must not be refused by it.
    for scope in ("ANON", "GUEST", "USER", "ADMIN", "AUTH"):
        env.setdefault(f"RATE_LIMIT_{scope}", "100000000/min")
    # The access tokens outlive the whole run.
    env.setdefault("JWT_ACCESS_MINUTES", "60")
    return env


def database_label(env: dict[str, str]) -> str:
    url = urllib.parse.urlsplit(env["DATABASE_URL"])
    if url.scheme.startswith("postgres"):
        return f"PostgreSQL database {url.path.lstrip('/')!r} on {url.hostname}:{url.port or 5432}"
    # sqlite:////abs/path names /abs/path; sqlite:///rel/path names rel/path.
    return f"SQLite file {url.path[1:]}"


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True, timeout=1800
    )


def python_output(env: dict[str, str], script: str, *, timeout: float = 120) -> list[str]:
    """The lines a Python snippet prints, run with the server's environment and settings."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    )
    return result.stdout.strip().splitlines()


def seed(env: dict[str, str]) -> None:
    """Load the bench data set unless the database has it (seed_bench leaves it alone then)."""
    scale = () if env["DATABASE_URL"].startswith("postgres") else SQLITE_SCALE
    print(f"Bench database: {database_label(env)}", flush=True)
    manage(env, "seed_bench", *scale)


def bench_fixtures(env: dict[str, str]) -> dict[str, object]:
    """Usernames and password to log in with, and ids of published posts (seeded data)."""
    script = (
        "import json, django; django.setup()\n"
        "from content.management.commands.seed_bench import BENCH_PASSWORD, bench_username\n"
        "from content.models import Post\n"
        "published = Post.objects.filter(status='published', deleted_at__isnull=True)\n"
        # The hot set: the most recent posts, which `warm_cache` puts in the cache.
        f"ids = published.order_by('-created_at').values_list('id', flat=True)[:{POST_IDS}]\n"
        # Older posts nobody read lately: each request goes through Django and the database.
        f"cold = published.order_by('?').values_list('id', flat=True)[:{COLD_POST_IDS}]\n"
        f"print(json.dumps({{'users': [bench_username(i) for i in range({LOGINS})], "
        f"'login_users': [bench_username(i) for i in range({LOGIN_USERS})], "
        "'password': BENCH_PASSWORD, 'ids': [str(i) for i in ids], "
        "'cold_ids': [str(i) for i in cold], "
        "'user_ids': sorted({str(p.author_id) for p in published.order_by('-created_at')"
        f"[:{POST_IDS}].only('author_id')}})}}))\n"
    )
    return json.loads(python_output(env, script)[-1])


def http_json(
    url: str, body: dict[str, str] | None = None, *, bearer: str | None = None
) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def log_in(base_url: str, usernames: list[str], password: str) -> list[str]:
    """Access tokens of the bench users, through the API's password grant."""
    tokens = []
    for username in usernames:
        status, body = http_json(
            f"{base_url}/api/v1/auth/token",
            {"grant_type": "password", "username": username, "password": password},
        )
        if status != 200:
            sys.exit(f"bench login of {username} failed: {status} {body}")
        tokens.append(str(body["access_token"]))
    return tokens


def write_scripts(
    directory: Path, fixtures: dict[str, object], tokens: list[str]
) -> dict[str, Path]:
    data = (
        f"ids = {lua_list(fixtures['ids'])}\ncold_ids = {lua_list(fixtures['cold_ids'])}\n"
        f"user_ids = {lua_list(fixtures['user_ids'])}\ntokens = {lua_list(tokens)}\n"
        f"login_users = {lua_list(fixtures['login_users'])}\n"
        f"password = {json.dumps(fixtures['password'])}\n"
    )
    paths = {}
    for name, body in {**LUA_SCRIPTS, "mix": LUA_MIX}.items():
        paths[name] = directory / f"{name}.lua"
        paths[name].write_text(data + LUA_RANDOM + body)
    return paths


def lua_list(values: list[str]) -> str:
    return "{" + ", ".join(json.dumps(value, ensure_ascii=False) for value in values) + "}"


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
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "p50": millis(percentiles["50"]),
        "p90": millis(percentiles["90"]),
        "p99": millis(percentiles["99"]),
        "non_2xx": int(errors.group(1)) if errors else 0,
        **_cache_counts(output),
        "socket_errors": sum(int(n) for n in sockets.groups()) if sockets else 0,
    }


def _cache_counts(output: str) -> dict[str, float]:
    """The X-Cache tally a script printed (the read-heavy mix), if any."""
    match = re.search(r"cache: (\d+) hits, (\d+) misses, (\d+) uncached", output)
    if match is None:
        return {}
    hits, misses, uncached = (int(n) for n in match.groups())
    return {"hits": hits, "misses": misses, "uncached": uncached}


def tree_pids(pid: int) -> list[int]:
    """`pid` and all its descendants (/proc's children lists of every thread)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
        except OSError:
            continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU of the processes, their reaped children included (/proc stat)."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def web_pids(server_pid: int) -> list[int]:
    """The server's HTTP processes: uvicorn (or daphne) and its workers, without Celery."""
    for pid in tree_pids(server_pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                argv = cmdline.read().split(b"\0")
        except OSError:
            continue
        if b"uvicorn" in argv or b"daphne" in argv:
            return tree_pids(pid)
    return []


@dataclass
class CpuMeter:
    """CPU of the server tree and of its web processes between `start` and `per_request`."""

    server_pid: int
    tree: float = 0.0
    web: float = 0.0

    def start(self) -> None:
        self.tree = cpu_seconds(tree_pids(self.server_pid))
        self.web = cpu_seconds(web_pids(self.server_pid))

    def per_request(self, requests: int) -> dict[str, float]:
        """Milliseconds of CPU per request since `start`, of the tree and of the web part."""
        tree = cpu_seconds(tree_pids(self.server_pid)) - self.tree
        web = cpu_seconds(web_pids(self.server_pid)) - self.web
        count = max(1, requests)
        return {"cpu_ms": 1000 * tree / count, "web_cpu_ms": 1000 * web / count}


def bcrypt_seconds(rounds: int = 12, samples: int = 3) -> float:
    """CPU time of one bcrypt hash at `rounds` (the least of a few): login's ceiling is the
    cores divided by it. CPU time rather than wall time, which other work on the machine
    stretches."""
    import bcrypt

    salt = bcrypt.gensalt(rounds)
    times = []
    for _ in range(samples):
        started = time.process_time()
        bcrypt.hashpw(b"agora-bench-password", salt)
        times.append(time.process_time() - started)
    return min(times)


def wrk_argv(
    wrk: str,
    url: str,
    connections: int,
    seconds: int,
    headers: tuple[str, ...] = (),
    script: Path | None = None,
) -> list[str]:
    header_args = [arg for header in headers for arg in ("-H", header)]
    script_args = ["-s", str(script)] if script else []
    return [
        wrk,
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        *header_args,
        *script_args,
        url,
    ]


def run_wrk(
    wrk: str,
    url: str,
    connections: int,
    seconds: int,
    headers: tuple[str, ...] = (),
    script: Path | None = None,
) -> dict[str, float]:
    result = subprocess.run(
        wrk_argv(wrk, url, connections, seconds, headers, script),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    return parse_wrk(result.stdout)


def run_wrk_during_logins(
    wrk: str,
    base_url: str,
    login_script: Path,
    url: str,
    seconds: int,
    headers: tuple[str, ...],
) -> dict[str, float]:
    """A read at two connections while the login target runs beside it, from before its
    start to after its end."""
    logins = subprocess.Popen(
        wrk_argv(
            wrk, base_url + "/api/v1/auth/token", LOGIN_CONNECTIONS, seconds + 2, (), login_script
        ),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1)
        return run_wrk(wrk, url, 2, seconds, headers)
    finally:
        logins.communicate(timeout=seconds + 60)


async def websocket_round_trips(
    ws_url: str, cookie: str, connections: int, seconds: float, tickets: list[str] | None = None
) -> dict[str, float]:
    """Ping round trips of `connections` clients, authenticated by a session cookie or, when
    `tickets` are given, one single-use ticket each."""
    from websockets.asyncio.client import connect

    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def client(index: int) -> None:
        url = f"{ws_url}?ticket={tickets[index]}" if tickets else ws_url
        headers = {} if tickets else {"Cookie": cookie}
        async with connect(url, additional_headers=headers, open_timeout=30) as ws:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                await ws.send('{"type":"ping"}')
                await asyncio.wait_for(ws.recv(), 10)
                latencies.append((time.perf_counter() - started) * 1000)

    began = time.monotonic()
    await asyncio.gather(*(client(index) for index in range(connections)))
    elapsed = time.monotonic() - began
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "rps": len(latencies) / elapsed,
        "p50": quantiles[49],
        "p90": quantiles[89],
        "p99": quantiles[98],
        "non_2xx": 0,
        "socket_errors": 0,
    }


def bench_credentials(env: dict[str, str]) -> tuple[str, str]:
    """A session cookie (WebSocket clients) and an access token of a bench user, made through
    Django itself (tests/perf/servers.py, which has no time for the API's password hashing)."""
    script = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from django.test import Client\n"
        "from accounts.models import User\n"
        "from accounts.services import login_session_start\n"
        "from content.management.commands.seed_bench import bench_username\n"
        "user = User.objects.get(username=bench_username(0))\n"
        "client = Client(); client.force_login(user)\n"
        "print(f'{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}')\n"
        "print(login_session_start(user=user).access_token)\n"
    )
    cookie, access_token = python_output(env, script, timeout=60)[-2:]
    return cookie, access_token


def ws_tickets(base_url: str, tokens: list[str], count: int) -> list[str]:
    tickets = []
    for index in range(count):
        status, body = http_json(
            f"{base_url}/api/v1/auth/ws-ticket", {}, bearer=tokens[index % len(tokens)]
        )
        if status != 201:
            sys.exit(f"ws-ticket failed: {status} {body}")
        tickets.append(str(body["ticket"]))
    return tickets


def check_search(base_url: str, target: Target) -> None:
    status, body = http_json(base_url + target.path)
    print(f"search target: {status}, {body.get('count', '?')} matching posts", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--only", nargs="*", default=None, help="targets whose label has a word")
    args = parser.parse_args()

    wrk = ensure_wrk()
    env = server_env()
    manage(env, "migrate", "--noinput", "-v", "0")
    seed(env)
    fixtures = bench_fixtures(env)
    # Before the server starts, on an idle machine as far as the bench can tell.
    hash_seconds = bcrypt_seconds()
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
        meter = CpuMeter(server.pid)
        tokens = log_in(base_url, fixtures["users"], fixtures["password"])
        with tempfile.TemporaryDirectory() as scratch:
            scripts = write_scripts(Path(scratch), fixtures, tokens)
            manage(env, "warm_cache", "--posts", str(POST_IDS * 2))
            for target in TARGETS:
                if args.only and not any(word in target.label for word in args.only):
                    continue
                if "search" in target.label:
                    check_search(base_url, target)
                headers = (f"Authorization: Bearer {tokens[0]}",) if target.authenticated else ()
                script = scripts[target.script] if target.script else None
                url = base_url + target.path
                connections = target.connections or args.connections
                if target.during_logins:
                    connections = 2
                if target.warm_up:
                    run_wrk(wrk, url, connections, 2, headers, script)
                meter.start()
                seconds = args.seconds * target.duration_factor
                result = run_wrk(wrk, url, connections, seconds, headers, script)
                result.update(meter.per_request(int(result["requests"])))
                rows.append((target.label, result))
                if target.during_logins:
                    during = run_wrk_during_logins(
                        wrk, base_url, scripts["login"], url, args.seconds, headers
                    )
                    rows.append((target.label + ", while logging in", during))
        if not args.only or any(word in "websocket ping" for word in args.only):
            tickets = ws_tickets(base_url, tokens, args.connections)
            meter.start()
            ws = asyncio.run(
                websocket_round_trips(
                    base_url.replace("http", "ws") + "/ws/v1/",
                    "",
                    args.connections,
                    args.seconds,
                    tickets=tickets,
                )
            )
            ws.update(meter.per_request(int(ws["rps"] * args.seconds)))
            rows.append(("websocket ping round trip", ws))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)

    redis = "Redis" if env.get("REDIS_URL") else "embedded (no Redis)"
    print(
        f"\nAgora bench: {database_label(env)}, {redis}; "
        f"{args.connections} concurrent clients, {args.seconds} s each"
    )
    print(
        f"{'target':<42}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
        f"{'non-2xx':>9}{'sock err':>9}{'CPU ms/req':>11}{'web CPU':>9}"
    )
    for label, row in rows:
        cpu = (
            f"{row['cpu_ms']:>11.2f}{row['web_cpu_ms']:>9.2f}"
            if "cpu_ms" in row
            else f"{'-':>11}{'-':>9}"
        )
        print(
            f"{label:<42}{row['rps']:>9.0f}{row['p50']:>9.1f}{row['p90']:>9.1f}"
            f"{row['p99']:>9.1f}{row['non_2xx']:>9}{row['socket_errors']:>9}{cpu}"
        )
    print(
        "\nCPU ms/req: user+system CPU of the whole server tree (web, worker, beat) per request;"
        " web CPU: of the web processes alone."
    )
    cores = len(os.sched_getaffinity(0))
    ceiling = cores / hash_seconds
    for label, row in rows:
        if label.startswith("login"):
            print(
                f"login: one bcrypt hash (cost 12) is {hash_seconds * 1000:.0f} ms of CPU here, so "
                f"{cores} cores cap logins at {ceiling:.1f}/s; measured {row['rps']:.1f}/s, "
                f"{row['rps'] / ceiling:.2f} of the ceiling. The server spent "
                f"{row['cpu_ms']:.0f} ms of CPU per login: on an otherwise idle machine it could "
                f"reach {hash_seconds * 1000 / row['cpu_ms']:.2f} of the ceiling (less the "
                "database's share)"
            )
    for label, row in rows:
        if "hits" in row:
            cacheable = row["hits"] + row["misses"]
            rate = 100 * row["hits"] / cacheable if cacheable else 0.0
            print(
                f"\n{label}: cache hit rate {rate:.1f} % of {cacheable:.0f} cacheable reads "
                f"({row['uncached']:.0f} other requests: filtered lists, writes)"
            )


if __name__ == "__main__":
    main()
