"""Password hashing on a bounded pool of threads.

A bcrypt hash at cost 12 is about 0.2 s of one core, and every login, registration and password
change makes one. Made on the request's own thread, as many hashes run at once as requests
ask for them (up to HTTP_THREADS per process): each takes longer the more there are, and
together they leave every other request of the machine a small share of the CPU. Here each
process hashes on at most PASSWORD_HASH_THREADS threads (by default its share of the cores:
one each for two processes on two cores), so logins queue for a place instead of crowding the
cores: they still keep every core busy (the bcrypt ceiling), and another request competes with
one hash per core rather than with one per login in flight (docs/operations.md has the
measurements).

bcrypt releases the GIL while it hashes, so the waiting request thread, and the event loop,
are free meanwhile. The pool's threads keep the normal priority on purpose: a lower one was
measured to make other requests far slower, not faster, because a hashing thread that the
kernel puts aside while it holds the GIL (taking it back after a hash) stalls every thread of
its process until it runs again.

The hash itself is Django's BCryptSHA256PasswordHasher's: the same algorithm name, so every
stored password still verifies and none needs upgrading.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.contrib.auth.hashers import BCryptSHA256PasswordHasher
from django.core.signals import setting_changed
from django.dispatch import receiver

from config.env import env

_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


def hashing_threads() -> int:
    """PASSWORD_HASH_THREADS, or when it is 0 this process's share of the cores: the cores it
    may run on divided among the server's processes (WEB_CONCURRENCY, which `serve` sets; else
    one process per core with Redis, as `serve` starts them, and one without), at least one."""
    configured = settings.PASSWORD_HASH_THREADS
    if configured > 0:
        return configured
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    processes = env.int("WEB_CONCURRENCY", default=0)
    if processes <= 0:
        processes = cores if settings.REDIS_URL and not settings.EMBEDDED_WORKER else 1
    return max(1, cores // processes)


def hashing_pool() -> ThreadPoolExecutor:
    """This process's pool (a forked child, e.g. a Celery worker, makes its own)."""
    global _pool, _pool_pid
    pid = os.getpid()
    if _pool is None or _pool_pid != pid:
        with _pool_lock:
            if _pool is None or _pool_pid != pid:
                _pool = ThreadPoolExecutor(
                    max_workers=hashing_threads(),
                    thread_name_prefix="password-hash",
                )
                _pool_pid = pid
    return _pool


@receiver(setting_changed)
def _pool_forget(*, setting: str, **kwargs: object) -> None:
    """A test that changes the pool's size gets a new pool."""
    global _pool
    if setting == "PASSWORD_HASH_THREADS":
        with _pool_lock:
            old, _pool = _pool, None
        if old is not None:
            old.shutdown(wait=False)


class PooledBCryptSHA256PasswordHasher(BCryptSHA256PasswordHasher):
    """Django's bcrypt_sha256, hashed on the pool (see the module doc). Verifying a password
    hashes it too (`verify` calls `encode`), and so does Django's timing equaliser."""

    def encode(self, password: str, salt: str) -> str:
        return hashing_pool().submit(super().encode, password, salt).result()
