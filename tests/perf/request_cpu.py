"""CPU per request on Django's request path, in-process, with an optional profile.

`python -m tests.perf.request_cpu [--requests 2000] [--profile N] [--only WORD ...]` sets up
Django with the production settings of `make bench` on DATABASE_URL / REDIS_URL (a bench
database seeded by `make bench` or `seed_bench`), then drives requests through the WSGI
handler that `serve` runs on its pool threads, timing `time.process_time()` per request.
`--profile N` prints cProfile's N costliest entries (cumulative and own time) for each target.
No server and no network other than the database and Redis: the figures are repeatable while
other work shares the machine, which wrk's req/s are not.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from tests.perf.run import server_env

LOGIN_SHARE = 50


def _environ(
    path: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes = b""
) -> dict[str, Any]:
    script, _, query = path.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": script,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    return environ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()

    os.environ.update(server_env())
    import django

    django.setup()
    from django.core.wsgi import get_wsgi_application

    from accounts.models import User
    from accounts.services import login_session_start
    from content.management.commands.seed_bench import BENCH_PASSWORD, bench_username
    from content.models import Post

    application = get_wsgi_application()
    user = User.objects.get(username=bench_username(0))
    token = login_session_start(user=user).access_token
    ids = [
        str(pk)
        for pk in Post.objects.filter(status="published", deleted_at__isnull=True)
        .order_by("?")
        .values_list("id", flat=True)[:2000]
    ]
    bearer = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    logins = itertools.cycle(
        json.dumps(
            {"grant_type": "password", "username": bench_username(i), "password": BENCH_PASSWORD}
        ).encode()
        for i in range(100)
    )
    comment_body = json.dumps(
        {"body": "Benchmark comment: lorem ipsum dolor sit amet, consectetur adipiscing elit."}
    ).encode()
    targets: dict[str, Callable[[], dict[str, Any]]] = {
        "health": lambda: _environ("/health"),
        "bearer users/me": lambda: _environ("/api/v1/users/me", headers=bearer),
        "bearer list": lambda: _environ("/api/v1/posts?limit=20", headers=bearer),
        "bearer detail": lambda: _environ(f"/api/v1/posts/{random.choice(ids)}", headers=bearer),  # noqa: S311
        "comment": lambda: _environ(
            f"/api/v1/posts/{random.choice(ids)}/comments",  # noqa: S311
            method="POST",
            headers={**bearer, "Content-Type": "application/json"},
            body=comment_body,
        ),
        # bcrypt at cost 12: --requests is divided by LOGIN_SHARE for it.
        "login": lambda: _environ(
            "/api/v1/auth/token",
            method="POST",
            headers={"Content-Type": "application/json"},
            body=next(logins),
        ),
    }

    def respond(environ: dict[str, Any]) -> int:
        statuses: list[str] = []
        result = application(environ, lambda status, headers, exc=None: statuses.append(status))
        b"".join(result)
        result.close()
        return int(statuses[0].split()[0])

    for name, make in targets.items():
        if args.only and not any(word in name for word in args.only):
            continue
        requests = args.requests // LOGIN_SHARE if name == "login" else args.requests
        for _ in range(min(50, requests)):
            status = respond(make())
        if status >= 400:
            sys.exit(f"{name}: HTTP {status}")
        environs = [make() for _ in range(requests)]
        started = time.process_time()
        for environ in environs:
            respond(environ)
        cpu_ms = (time.process_time() - started) * 1000 / requests
        print(f"{name:<20}{cpu_ms:>8.3f} ms CPU/request ({requests} requests)", flush=True)
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            environs = [make() for _ in range(requests)]
            profiler.enable()
            for environ in environs:
                respond(environ)
            profiler.disable()
            for order in ("cumulative", "tottime"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(args.profile)
                print(out.getvalue())


if __name__ == "__main__":
    main()
