"""Resume under churn (`python -m tests.perf.ws_resume`): no event lost, none twice.

Starts the web processes as production does, connects N Python SDK clients (clients/python) to
one post room, publishes events at a steady rate from a separate Django process for a while,
and meanwhile drops a random client's socket every `--drop-every` seconds (each client then
reconnects with backoff and resumes from its last event id). At the end every client's events
are compared with the published ids: lost, duplicated, out of order, and the rooms a client
was told to reload (`complete: false`).

    DATABASE_URL=postgres://…/bench REDIS_URL=redis://…/2 python -m tests.perf.ws_resume \
        --clients 200 --seconds 180
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time

from tests.perf.run import BASE_DIR, python_output
from tests.perf.ws_fanout import web_server

sys.path.insert(0, str(BASE_DIR / "clients" / "python"))

SETUP = """
import json, django; django.setup()
from django.utils import timezone
from accounts.models import User, Role
from accounts.services import login_session_start
from content.models import Post
user, _ = User.objects.get_or_create(username="wsresume", defaults={{
    "email": "wsresume@example.org", "role": Role.USER, "email_verified": True}})
post = Post.objects.create(author=user, title="Resume bench", body="", status="published",
                           published_at=timezone.now())
pairs = [login_session_start(user=user) for _ in range({clients})]
print(json.dumps({{"post": str(post.pk), "tokens": [
    [p.access_token, p.refresh_token] for p in pairs]}}))
"""

PUBLISHER = """
import json, sys, time, django; django.setup()
from realtime.broadcast import broadcast
room, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
print("READY", flush=True)
sys.stdin.readline()
ids = []
start = time.perf_counter()
n = 0
while time.perf_counter() - start < seconds:
    time.sleep(max(0.0, start + n / rate - time.perf_counter()))
    ids.append(broadcast(room, "bench.tick", {"n": n}))
    n += 1
print("IDS " + json.dumps(ids), flush=True)
"""


async def run(base_url: str, env: dict[str, str], args: argparse.Namespace) -> dict[str, object]:
    from agora_client import AgoraClient

    setup = json.loads(python_output(env, SETUP.format(clients=args.clients))[-1])
    room = f"post:{setup['post']}"
    received: list[list[str]] = [[] for _ in range(args.clients)]
    gaps = [0] * args.clients
    clients = []
    for index, (access, refresh) in enumerate(setup["tokens"]):
        client = AgoraClient(base_url)
        client.set_tokens(access, refresh)

        def handler(event: object, index: int = index) -> None:
            received[index].append(event.id)  # type: ignore[attr-defined]

        def gap(_room: str, index: int = index) -> None:
            gaps[index] += 1

        client.on_gap(gap)
        await client.connect()
        await client.subscribe(room, handler, event="bench.tick")
        clients.append(client)
    print(f"{len(clients)} clients subscribed", flush=True)

    publisher = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PUBLISHER, room, str(args.rate), str(args.seconds),
        cwd=BASE_DIR, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert publisher.stdin is not None
    assert publisher.stdout is not None
    while (await publisher.stdout.readline()).strip() != b"READY":
        pass
    publisher.stdin.write(b"GO\n")
    await publisher.stdin.drain()

    drops = 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(args.drop_every)
        await random.choice(clients).reconnect()  # noqa: S311 - chaos, not security
        drops += 1
    line = (await publisher.stdout.readline()).decode()
    published: list[str] = json.loads(line.split(" ", 1)[1])
    await publisher.wait()
    settle = time.monotonic() + 30
    while time.monotonic() < settle and any(len(r) < len(published) for r in received):
        await asyncio.sleep(0.2)
    for client in clients:
        await client.close()

    wanted = set(published)
    lost = sum(len(wanted - set(r)) for r in received)
    duplicated = sum(len(r) - len(set(r)) for r in received)
    out_of_order = sum(r != sorted(r) for r in received)
    return {
        "clients": len(clients),
        "published": len(published),
        "drops": drops,
        "reconnects": sum(c.connections - 1 for c in clients),
        "lost": lost,
        "duplicated": duplicated,
        "clients_out_of_order": out_of_order,
        "told_to_reload": sum(gaps),
        "clients_with_every_event": sum(set(r) == wanted for r in received),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--rate", type=float, default=5.0, help="events per second")
    parser.add_argument("--drop-every", type=float, default=0.5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with web_server(args.workers) as (env, _server, port):
        result = asyncio.run(run(f"http://127.0.0.1:{port}", env, args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
