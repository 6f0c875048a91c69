"""Job kinds: what each kind accepts and what running it does.

A kind is a `JobKind` value in a module listed in the `JOB_KINDS` setting. `clean` checks a
request's params for its actor (domain errors, e.g. `ValidationFailed` naming `params.<field>`)
and returns them normalised; `run` does the work through the domain services, reporting
progress and storing files through its `JobContext` (tasks.runner), and returns the job's small
JSON result. `run` must be idempotent: a job whose worker died runs again from the start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from tasks.runner import JobContext


class JobFailed(Exception):
    """Raised by a kind's `run` for a failure that retrying cannot fix (the job ends `failed`).

    Any other exception is taken as transient: the job is retried with backoff, then `dead`.
    """


@dataclass(frozen=True)
class JobKind:
    name: str
    clean: Callable[[dict[str, Any], Any], dict[str, Any]]
    run: Callable[[JobContext], dict[str, Any] | None]
    # Retries after the first attempt before the job is dead.
    retries: int = 3
    # First retry's delay; each later one doubles it (with full jitter), up to RETRY_MAX.
    retry_base_seconds: float = 5.0
    # At most this many jobs of the kind run at once, across every worker (None: no cap).
    concurrency: int | None = None


@cache
def kinds() -> dict[str, JobKind]:
    """Every registered kind by name (`JOB_KINDS`, read once per process)."""
    registered = [import_string(path) for path in settings.JOB_KINDS]
    return {kind.name: kind for kind in registered}


def kind_get(name: str) -> JobKind | None:
    return kinds().get(name)


def kind_concurrency(name: str) -> int | None:
    """The kind's cap, from JOB_KIND_CONCURRENCY if the operator set one, else its own."""
    configured = settings.JOB_KIND_CONCURRENCY.get(name)
    if configured is not None:
        return configured
    kind = kind_get(name)
    return kind.concurrency if kind else None
