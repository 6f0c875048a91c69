"""Job kinds: what each kind accepts and what running it does.

A kind is a `JobKind` value in a module listed in the `JOB_KINDS` setting. `clean` checks a
request's params for its actor (domain errors, e.g. `ValidationFailed` naming `params.<field>`)
and returns them normalised; `run` does the work through the domain services, reporting
progress and storing files through its `JobContext` (tasks.runner), and returns the job's small
JSON result. `run` must be idempotent: a job whose worker died runs again from the start.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


class JobRetry(Exception):
    """Raised by a kind's `run` for an expected, transient failure (a webhook receiver that
    answered 500): retried like any exception, but logged as a warning without a traceback,
    since there is no bug to see."""


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
    # The delays after the first, second, … failed attempt (jittered), read when a job is
    # created and when it fails; when given, its length is the number of retries and it
    # replaces the doubling of `retry_base_seconds` (webhook deliveries: seconds, minutes,
    # then hours).
    retry_schedule: Callable[[], Sequence[float]] | None = None
    # False: only the server creates these jobs (clients asking for the kind get a 400).
    requestable: bool = True
    # False: the kind's jobs do not count against their owner's JOB_USER_CONCURRENCY (an
    # endpoint owner's webhook deliveries never hold up their exports, and the other way
    # round); its own `concurrency` still applies.
    owner_capped: bool = True

    def max_attempts(self) -> int:
        retries = len(self.retry_schedule()) if self.retry_schedule else self.retries
        return retries + 1


@cache
def kinds() -> dict[str, JobKind]:
    """Every registered kind by name (`JOB_KINDS`, read once per process)."""
    registered = [import_string(path) for path in settings.JOB_KINDS]
    return {kind.name: kind for kind in registered}


def kind_get(name: str) -> JobKind | None:
    return kinds().get(name)


def requestable_kinds() -> list[str]:
    """The kinds clients may ask for, by name."""
    return sorted(name for name, kind in kinds().items() if kind.requestable)


def owner_uncapped_kinds() -> list[str]:
    """The kinds whose jobs do not count against their owner's concurrency."""
    return sorted(name for name, kind in kinds().items() if not kind.owner_capped)


def kind_concurrency(name: str) -> int | None:
    """The kind's cap, from JOB_KIND_CONCURRENCY if the operator set one, else its own."""
    configured = settings.JOB_KIND_CONCURRENCY.get(name)
    if configured is not None:
        return configured
    kind = kind_get(name)
    return kind.concurrency if kind else None
