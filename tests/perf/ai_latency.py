"""The assistant's cost over its provider: latency overhead and time to the first streamed chunk.

    .venv/bin/python -m tests.perf.ai_latency [--requests 50] [--postgres postgres://…/name]

Starts the local OpenAI-compatible provider (tests/tasks/fake_openai.py, in this process) and
the real server (`manage.py serve`, as `make contract` does: a throwaway database, the test
settings, a verified member) pointed at it. Then, one request at a time over a fresh
connection each (as a client without keep-alive):

- whole replies: `POST /v1/chat/completions` straight to the provider, and `POST ai/chat`
  through the server; the overhead is the difference of the medians;
- streamed replies: the time until the first `data:` event arrives, straight from the provider
  and through the server, and until the end of the stream.

Prints p50, p90 and max of each (milliseconds). The provider answers at once, so what is
measured is the server's own work: authentication, throttles, validation, the client library
and the relay.
"""

from __future__ import annotations

import argparse
import http.client
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from tests.contract.run_schemathesis import (
    live_server,
    login,
    prepare,
    server_env,
    throwaway_database,
)
from tests.tasks.fake_openai import FakeOpenAI

QUESTION = {"messages": [{"role": "user", "content": "Fasse den Beitrag über Zoë zusammen."}]}


def timed_post(url: str, body: dict, headers: dict[str, str]) -> tuple[float, float, int]:
    """(seconds to the first body line that is an event or the whole body, seconds to the end,
    status) of one POST over a new connection."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    started = time.perf_counter()
    connection.request(
        "POST", parts.path, json.dumps(body), {"Content-Type": "application/json", **headers}
    )
    response = connection.getresponse()
    first = None
    if response.getheader("Content-Type", "").startswith("text/event-stream"):
        while line := response.readline():
            if first is None and line.startswith(b"data:"):
                first = time.perf_counter() - started
    else:
        response.read()
    total = time.perf_counter() - started
    connection.close()
    return (first if first is not None else total), total, response.status


def sample(count: int, call: Callable[[], tuple[float, float, int]]) -> list[tuple[float, float]]:
    call()  # warm-up: imports, the client's connection pool
    results = []
    for _ in range(count):
        first, total, status = call()
        if status != 200:
            raise SystemExit(f"status {status}")
        results.append((first, total))
    return results


def figures(label: str, values: list[float]) -> float:
    ordered = sorted(values)
    p50 = statistics.median(ordered)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    print(f"{label:48} p50 {p50 * 1000:7.2f}  p90 {p90 * 1000:7.2f}  max {ordered[-1] * 1000:7.2f}")
    return p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--postgres", metavar="URL")
    args = parser.parse_args()
    password = secrets.token_urlsafe(24)
    with (
        FakeOpenAI() as provider,
        tempfile.TemporaryDirectory(prefix="agora-ai-bench-") as tmp,
        throwaway_database(args.postgres, Path(tmp)) as database_url,
    ):
        env = {
            **server_env(database_url),
            "OPENAI_BASE_URL": provider.url,
            "OPENAI_MODEL": "fake-model-1",
        }
        prepare(env, [("bench-ai", "user")], password)
        with live_server(env, Path(tmp) / "server.log") as base_url:
            auth = {"Authorization": f"Bearer {login(base_url, 'bench-ai', password)}"}
            direct = f"{provider.url}/chat/completions"
            through = f"{base_url}/api/v1/ai/chat"
            body = {"model": "fake-model-1", **QUESTION}
            n = args.requests
            print(f"{n} sequential requests each, milliseconds")
            direct_whole = sample(n, lambda: timed_post(direct, body, {}))
            ours_whole = sample(n, lambda: timed_post(through, QUESTION, auth))
            stream = {**body, "stream": True}
            direct_stream = sample(n, lambda: timed_post(direct, stream, {}))
            ours_stream = sample(n, lambda: timed_post(through, {**QUESTION, "stream": True}, auth))
            a = figures("whole reply, provider directly", [t for _, t in direct_whole])
            b = figures("whole reply, through POST ai/chat", [t for _, t in ours_whole])
            print(f"{'overhead (difference of the p50s)':48} {1000 * (b - a):7.2f}")
            c = figures("first streamed chunk, provider directly", [f for f, _ in direct_stream])
            d = figures("first streamed chunk, through POST ai/chat", [f for f, _ in ours_stream])
            print(f"{'overhead to the first chunk (p50s)':48} {1000 * (d - c):7.2f}")
            figures("whole stream, provider directly", [t for _, t in direct_stream])
            figures("whole stream, through POST ai/chat", [t for _, t in ours_stream])


if __name__ == "__main__":
    main()
