"""Webhook delivery latency at idle: from the commit of an event to the receiver having it.

    DATABASE_URL=postgres://…/bench REDIS_URL=redis://…/N \\
        .venv/bin/python -m tests.perf.webhooks_latency [--events 50]

Services mode only (a real worker process needs a broker it shares). The script migrates the
database, makes a user with an endpoint (WEBHOOK_ALLOWED_NETWORKS=127.0.0.2/32) pointing at a
receiver it runs on 127.0.0.2, and starts a real worker (`celery -A config worker`, as the
Procfile does, with the same environment). Then, one at a time, it writes a notification in a
transaction (its `notification` event is published after the commit, which queues the
delivery job) and waits for the receiver to get it; the latency is from just before the
commit to the receiver's read of the request, both on this process's monotonic clock. Prints
p50, p95 and max. Everything is bounded in time; the worker is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
ALLOWED = "127.0.0.2/32"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=20.0, help="per event, seconds")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        print("Set DATABASE_URL and REDIS_URL (services mode).", file=sys.stderr)
        return 2
    os.environ["WEBHOOK_ALLOWED_NETWORKS"] = ALLOWED
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
    os.environ["EMBEDDED_WORKER"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from accounts.models import User
    from realtime.models import NotificationKind
    from realtime.services import notification_create
    from tasks.models import WebhookEndpoint
    from tasks.services.webhooks import secret_generate
    from tests.tasks.webhook_receiver import Receiver

    call_command("migrate", verbosity=0)
    owner, _ = User.objects.get_or_create(
        username="bench_webhooks", defaults={"email": "bench_webhooks@example.org"}
    )
    receiver = Receiver().start()
    WebhookEndpoint.objects.filter(owner=owner).delete()
    WebhookEndpoint.objects.create(
        owner=owner, url=receiver.url, events=["notification"], secret=secret_generate()
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING"],
        cwd=BASE_DIR,
        env=os.environ.copy(),
        start_new_session=True,
    )
    try:
        _warm_up(owner, receiver, notification_create, NotificationKind, args.timeout)
        latencies = []
        for number in range(args.events):
            seen = len(receiver.received)
            with transaction.atomic():
                notification_create(
                    recipient_id=owner.pk,
                    kind=NotificationKind.COMMENT_ON_POST,
                    data={"bench": number},
                )
                committed_at = time.monotonic()
            receiver.wait_for(seen + 1, timeout=args.timeout)
            arrived = receiver.arrivals[seen]
            latencies.append((arrived - committed_at) * 1000)
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        receiver.stop()
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(
        f"webhook delivery latency at idle over {len(latencies)} events: "
        f"p50 {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, "
        f"max {latencies[-1]:.1f} ms"
    )
    return 0


def _warm_up(
    owner: object, receiver: object, notification_create: object, kinds: object, timeout: float
) -> None:
    """One delivery first: the worker's start, imports and connections are not idle latency."""
    notification_create(recipient_id=owner.pk, kind=kinds.COMMENT_ON_POST, data={"warm": 1})
    receiver.wait_for(1, timeout=max(timeout, 60.0))


if __name__ == "__main__":
    sys.exit(main())
