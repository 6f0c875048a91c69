"""`manage.py serve` (what `make run` starts) stops every process it started on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from django.conf import settings

from config.management.commands.serve import wait_until_answering
from tests.live import BASE_DIR, free_port, live_server_env

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]


def _children(pid: int) -> list[int]:
    result = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(line) for line in result.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_stops_the_server_and_its_workers() -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=BASE_DIR,
        env=live_server_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until_answering(f"http://127.0.0.1:{port}/health", timeout=45)
        children = _children(server.pid)

        server.send_signal(signal.SIGINT)
        exit_code = server.wait(timeout=40)
    finally:
        if server.poll() is None:
            server.kill()

    assert exit_code == 0
    assert len(children) == (3 if settings.REDIS_URL else 1)
    assert [pid for pid in children if _alive(pid)] == []
    assert not wait_until_answering(f"http://127.0.0.1:{port}/health", timeout=1)
