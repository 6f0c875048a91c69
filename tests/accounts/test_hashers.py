"""Password hashing on the bounded pool (accounts/hashers.py): same hashes, fewer at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import bcrypt
import pytest
from django.contrib.auth.hashers import (
    BCryptSHA256PasswordHasher,
    check_password,
    identify_hasher,
    make_password,
)
from django.test import override_settings
from rest_framework.test import APIClient

from accounts import hashers
from accounts.hashers import PooledBCryptSHA256PasswordHasher, hashing_pool, hashing_threads
from tests.accounts.helpers import login
from tests.factories import PASSWORD, UserFactory

POOLED = "tests.accounts.test_hashers.CheapPooledHasher"
STOCK = "tests.accounts.test_hashers.CheapStockHasher"


class CheapPooledHasher(PooledBCryptSHA256PasswordHasher):
    rounds = 4


class CheapStockHasher(BCryptSHA256PasswordHasher):
    rounds = 4


@pytest.fixture
def hash_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads bcrypt hashed on."""
    names: list[str] = []
    original = bcrypt.hashpw

    def recorded(password: bytes, salt: bytes) -> bytes:
        names.append(threading.current_thread().name)
        return original(password, salt)

    monkeypatch.setattr(bcrypt, "hashpw", recorded)
    return names


def test_production_hashes_on_the_pool_with_djangos_bcrypt_sha256() -> None:
    from config.settings import base

    assert base.PASSWORD_HASHERS[0] == "accounts.hashers.PooledBCryptSHA256PasswordHasher"
    assert PooledBCryptSHA256PasswordHasher.algorithm == BCryptSHA256PasswordHasher.algorithm
    assert PooledBCryptSHA256PasswordHasher.rounds == 12


def test_hashes_are_made_and_checked_on_the_pool(hash_threads: list[str]) -> None:
    with override_settings(PASSWORD_HASHERS=[POOLED]):
        encoded = make_password("Grüße, Zoë 🚀")
        assert check_password("Grüße, Zoë 🚀", encoded)
        assert not check_password("wrong", encoded)

    assert len(hash_threads) == 3
    assert all(name.startswith("password-hash") for name in hash_threads)
    assert threading.current_thread().name not in hash_threads


def test_stored_passwords_still_verify_both_ways() -> None:
    with override_settings(PASSWORD_HASHERS=[STOCK]):
        stock = make_password(PASSWORD)
    with override_settings(PASSWORD_HASHERS=[POOLED, STOCK]):
        pooled = make_password(PASSWORD)
        assert check_password(PASSWORD, stock)
        assert identify_hasher(stock).algorithm == "bcrypt_sha256"
    with override_settings(PASSWORD_HASHERS=[STOCK]):
        assert check_password(PASSWORD, pooled)


@pytest.mark.django_db
def test_a_login_checks_its_password_on_the_pool(
    api_client: APIClient, hash_threads: list[str]
) -> None:
    with override_settings(PASSWORD_HASHERS=[POOLED]):
        user = UserFactory()
        user.set_password(PASSWORD)
        user.save()
        hash_threads.clear()

        assert login(api_client, user.username).status_code == 200
        assert login(api_client, user.username, "wrong password").status_code == 401
        assert login(api_client, "nobody-at-all").status_code == 401

    assert len(hash_threads) == 3
    assert all(name.startswith("password-hash") for name in hash_threads)


@override_settings(PASSWORD_HASHERS=[POOLED], PASSWORD_HASH_THREADS=1)
def test_at_most_the_pools_size_hash_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    running: list[int] = []
    peak: list[int] = [0]
    lock = threading.Lock()
    original = bcrypt.hashpw

    def counted(password: bytes, salt: bytes) -> bytes:
        with lock:
            running.append(1)
            peak[0] = max(peak[0], len(running))
        try:
            return original(password, salt)
        finally:
            with lock:
                running.pop()

    monkeypatch.setattr(bcrypt, "hashpw", counted)
    assert hashing_pool()._max_workers == 1
    with ThreadPoolExecutor(max_workers=8) as requests:
        encoded = list(requests.map(make_password, [f"password {n}" for n in range(16)]))

    assert peak[0] == 1
    assert all(check_password(f"password {n}", e) for n, e in enumerate(encoded))


@pytest.mark.parametrize(
    ("configured", "cores", "web_processes", "redis", "expected"),
    [
        (3, 2, "2", True, 3),  # set explicitly
        (0, 2, "2", True, 1),  # two processes on two cores: one each
        (0, 4, "2", True, 2),
        (0, 2, "", True, 1),  # `serve`'s default: a process per core with Redis
        (0, 2, "", False, 2),  # the embedded stack is one process
        (0, 1, "4", True, 1),  # never none
    ],
)
def test_the_pool_is_the_processs_share_of_the_cores(
    monkeypatch: pytest.MonkeyPatch,
    configured: int,
    cores: int,
    web_processes: str,
    redis: bool,
    expected: int,
) -> None:
    monkeypatch.setattr(hashers.os, "sched_getaffinity", lambda pid: set(range(cores)))
    if web_processes:
        monkeypatch.setenv("WEB_CONCURRENCY", web_processes)
    else:
        monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    redis_url = "redis://127.0.0.1:6379/0" if redis else ""
    with override_settings(
        PASSWORD_HASH_THREADS=configured, REDIS_URL=redis_url, EMBEDDED_WORKER=not redis
    ):
        assert hashing_threads() == expected


def test_a_forked_process_makes_its_own_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = hashing_pool()
    real_pid = hashers.os.getpid()
    monkeypatch.setattr(hashers.os, "getpid", lambda: real_pid + 1)

    child: Any = hashing_pool()

    assert child is not parent
    assert child.submit(lambda: 42).result() == 42
