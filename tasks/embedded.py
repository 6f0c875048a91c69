"""The embedded background stack: a Celery worker and beat as threads of the ASGI process.

Used when there is no broker to share (no `REDIS_URL`): the memory transport and the
in-process channel layer exist only inside one process, so the worker must live there too. The
memory broker dies with the process, so at start the jobs it held are sent again.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
from typing import Any

from django.conf import settings

logger = logging.getLogger("agora.tasks")

_lock = threading.Lock()
_state: dict[str, Any] = {}


def start_embedded_worker_if_enabled() -> None:
    if settings.EMBEDDED_WORKER:
        start_embedded_worker()


def start_embedded_worker(*, with_beat: bool = True) -> None:
    """Start the worker (and beat) threads once per process; later calls do nothing."""
    from celery import current_app
    from celery.beat import EmbeddedService

    app = current_app._get_current_object()

    with _lock:
        thread = _state.get("thread")
        if thread is not None and thread.is_alive():
            return
        app.finalize()
        app.set_current()
        app.set_default()
        worker = app.WorkController(
            hostname=f"embedded-{os.getpid()}@{socket.gethostname()}",
            pool="threads",
            concurrency=settings.EMBEDDED_WORKER_CONCURRENCY,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        thread = threading.Thread(target=worker.start, name="celery-embedded-worker", daemon=True)
        thread.start()
        _state.update(worker=worker, thread=thread)
        if with_beat:
            # Service defaults to the file-based scheduler; beat's CLI is what reads the setting.
            beat = EmbeddedService(app, thread=True, scheduler_cls=app.conf.beat_scheduler)
            beat.start()
            _state["beat"] = beat
        atexit.register(stop_embedded_worker)
        _resend_lost_jobs()
        logger.info(
            "embedded Celery worker started",
            extra={
                "concurrency": settings.EMBEDDED_WORKER_CONCURRENCY,
                "beat": with_beat,
            },
        )


def _resend_lost_jobs() -> None:
    """The memory broker starts empty: jobs the previous process had sent to its broker and not
    started are gone with it. Send them again now rather than after JOB_REDISPATCH_SECONDS."""
    from django.utils import timezone

    from tasks.services import jobs_broker_lost

    try:
        jobs_broker_lost(sent_before=timezone.now())
    except Exception:
        logger.exception("could not send again the jobs of the previous process; the sweep will")


def stop_embedded_worker(timeout: float = 5.0) -> None:
    with _lock:
        beat = _state.pop("beat", None)
        worker = _state.pop("worker", None)
        thread = _state.pop("thread", None)
    if beat is not None:
        beat.stop()
    if worker is not None:
        worker.stop(in_sighandler=False)
    if thread is not None:
        thread.join(timeout)


def embedded_worker_status() -> str:
    """`running`, `stopped` (it died or was stopped) or `not started`."""
    thread = _state.get("thread")
    if thread is None:
        return "not started"
    return "running" if thread.is_alive() else "stopped"
