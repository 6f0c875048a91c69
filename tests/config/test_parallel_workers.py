"""The isolation `make test` relies on when it runs the suite in several xdist workers."""

from __future__ import annotations

from tests.parallel import isolate_worker, redis_url_for_worker


def test_each_worker_gets_its_own_redis_database_on_the_same_server() -> None:
    assert redis_url_for_worker("redis://127.0.0.1:6379/0", 0) == "redis://127.0.0.1:6379/0"
    assert redis_url_for_worker("redis://127.0.0.1:6379/2", 1) == "redis://127.0.0.1:6379/3"
    assert redis_url_for_worker("redis://:pw@127.0.0.1:6379", 1) == "redis://:pw@127.0.0.1:6379/1"


def test_each_worker_gets_its_own_sqlite_file_and_redis_database() -> None:
    environ = {"PYTEST_XDIST_WORKER": "gw1", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    isolate_worker(environ)
    assert environ["TEST_SQLITE_NAME"] == "test-gw1.sqlite3"
    assert environ["REDIS_URL"] == "redis://127.0.0.1:6379/1"


def test_a_chosen_sqlite_name_is_kept_apart_per_worker() -> None:
    environ = {"PYTEST_XDIST_WORKER": "gw0", "TEST_SQLITE_NAME": "mine.sqlite3"}
    isolate_worker(environ)
    assert environ == {"PYTEST_XDIST_WORKER": "gw0", "TEST_SQLITE_NAME": "mine-gw0.sqlite3"}


def test_a_run_without_workers_is_left_as_it_is() -> None:
    environ = {"REDIS_URL": "redis://127.0.0.1:6379/0"}
    isolate_worker(environ)
    assert environ == {"REDIS_URL": "redis://127.0.0.1:6379/0"}
