"""`manage.py serve` (what `make run` starts): its processes, and stopping all of them on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from config.management.commands.serve import wait_until_answering
from tests.live import BASE_DIR, free_port, live_server_env

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]


def _children(pid: int) -> list[int]:
    result = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(line) for line in result.stdout.split()]


def _command_line(pid: int) -> bytes:
    """A process's command line as one string. Celery retitles its processes when setproctitle
    is installed (`[celeryd: …] -active- (-A config worker)`), which rewrites the arguments in
    place: the Procfile's arguments stay readable in the title, their positions do not."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").strip()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _child_running(pid: int, program: bytes) -> int:
    """The child of `pid` whose command line names `program`."""
    (child,) = [
        child
        for child in _children(pid)
        if program in Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[:3]
    ]
    return child


def _serve(port: int, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=BASE_DIR,
        env=live_server_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(server: subprocess.Popen[bytes]) -> int:
    server.send_signal(signal.SIGINT)
    try:
        return server.wait(timeout=40)
    finally:
        if server.poll() is None:
            server.kill()


def test_ctrl_c_stops_the_server_and_its_workers() -> None:
    port = free_port()
    server = _serve(port)
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


@pytest.mark.redis
def test_with_redis_web_concurrency_sets_the_number_of_server_processes() -> None:
    port = free_port()
    server = _serve(port, WEB_CONCURRENCY="2")
    try:
        assert wait_until_answering(f"http://127.0.0.1:{port}/health", timeout=45)
        web = _child_running(server.pid, b"uvicorn")
        # uvicorn's workers are multiprocessing children (beside its resource tracker).
        workers = [
            pid
            for pid in _children(web)
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
    finally:
        exit_code = _stop(server)

    assert exit_code == 0
    assert len(workers) == 2
    assert [pid for pid in [web, *workers] if _alive(pid)] == []


def test_without_redis_the_stack_stays_one_process_whatever_web_concurrency_says() -> None:
    port = free_port()
    server = _serve(port, REDIS_URL="", EMBEDDED_WORKER="true", WEB_CONCURRENCY="4")
    try:
        assert wait_until_answering(f"http://127.0.0.1:{port}/health", timeout=45)
        children = _children(server.pid)
        grandchildren = [pid for child in children for pid in _children(child)]
    finally:
        exit_code = _stop(server)

    assert exit_code == 0
    assert (len(children), grandchildren) == (1, [])


def test_daphne_remains_available_as_the_server() -> None:
    port = free_port()
    server = _serve(port, SERVER="daphne")
    try:
        answering = wait_until_answering(f"http://127.0.0.1:{port}/health", timeout=45)
        daphne = _child_running(server.pid, b"daphne")
    finally:
        exit_code = _stop(server)

    assert answering
    assert exit_code == 0
    assert not _alive(daphne)


def test_the_procfile_names_web_worker_and_beat() -> None:
    from config.management.commands.serve import procfile_processes

    processes = procfile_processes()

    assert list(processes) == ["web", "worker", "beat"]
    assert processes["web"] == [sys.executable, "manage.py", "serve", "web"]
    assert processes["worker"][:5] == [sys.executable, "-m", "celery", "-A", "config"]


def test_a_procfile_line_without_a_command_is_refused(tmp_path: Path) -> None:
    from django.core.management import CommandError

    from config.management.commands.serve import procfile_processes

    procfile = tmp_path / "Procfile"
    procfile.write_text("web: python manage.py serve web\nworker:\n")

    with pytest.raises(CommandError, match="not `name: command`"):
        procfile_processes(procfile)


def test_the_procfile_web_process_serves_alone_and_stops_on_sigterm() -> None:
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "web"],
        cwd=BASE_DIR,
        env=live_server_env(PORT=str(port), REDIS_URL="", EMBEDDED_WORKER="true"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        answering = wait_until_answering(f"http://127.0.0.1:{port}/health", timeout=45)
        command = Path(f"/proc/{web.pid}/cmdline").read_bytes().split(b"\0")
        web.send_signal(signal.SIGTERM)
        exit_code = web.wait(timeout=30)
    finally:
        if web.poll() is None:
            web.kill()

    assert answering
    assert b"uvicorn" in command[:3]
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert exit_code == -signal.SIGTERM
    assert not wait_until_answering(f"http://127.0.0.1:{port}/health", timeout=1)


@pytest.mark.redis
def test_with_redis_serve_runs_the_procfile_processes() -> None:
    port = free_port()
    server = _serve(port)
    try:
        assert wait_until_answering(f"http://127.0.0.1:{port}/health", timeout=45)
        commands = [_command_line(pid) for pid in _children(server.pid)]
    finally:
        _stop(server)

    celery = [command for command in commands if b"celery" in command]
    assert len(celery) == 2
    assert any(b"-A config worker" in command for command in celery)
    assert any(b"-A config beat" in command for command in celery)
