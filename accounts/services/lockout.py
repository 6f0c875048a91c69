"""Login lockout per account and the failure limit per address, in the database.

An account's counter holds its failures within the window and its attempts *in flight*
(admitted, their password still being checked). An attempt is admitted only while failures
plus attempts in flight stay under the limit, decided under a row lock before the slow hash
runs, so a parallel burst of guesses gets no more than the limit checked. An attempt that
finds every place taken by attempts still in flight waits for them to be decided rather than
being refused: it is refused (429 `account_locked`) only once the failures themselves reach
the limit. So the answers are those of the same attempts made one after the other: parallel
logins with the right password all get in, and a burst of wrong ones gets exactly the limit
checked. Each attempt in flight carries its own expiry, so one whose process died stops
counting by itself.

An address's counter counts failures across accounts; at its limit every attempt from it is
a 429 `rate_limited` until the window ends, and no account is locked, so one mistyping person
behind an office NAT does not lock out the whole office. It is a coarse brake against
spraying guesses across accounts (with the `auth` request rate per address); the account's
limit is the exact one.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.exceptions import AccountLocked, LoginRateLimited
from accounts.models import LoginFailureCounter, User
from accounts.services.events import auth_event_log
from audits.services import (
    TARGET_ID_MAX_LENGTH,
    AuditEvent,
    audit_changes,
    audit_record_write,
    audit_records_write,
    json_safe,
)
from config.core.context import current_request_origin

Scope = LoginFailureCounter.Scope

# An attempt in flight stops counting this long after it began, should its process die
# before deciding it: far longer than any password check.
IN_FLIGHT_TIMEOUT = timedelta(seconds=30)
# A waiting attempt polls again after these pauses (doubling, each shortened at random so
# waiters do not poll in step).
FIRST_PAUSE = 0.01
LONGEST_PAUSE = 0.2


@dataclass(frozen=True)
class LoginKeys:
    """What one login attempt is counted against."""

    account: str
    ip: str | None
    user: User | None
    identifier: str = ""


@dataclass(frozen=True)
class LoginAttempt:
    """One admitted attempt: its keys and its place among the account's attempts in flight."""

    keys: LoginKeys
    id: str


@dataclass(frozen=True)
class _Busy:
    """Every place is taken by attempts in flight; the earliest stops counting in `wait` s."""

    wait: float


def login_target_id(*, identifier: str, user: User | None) -> str:
    """What a login attempt's audit record names: the account, or the name tried for none.

    Only admins read the audit, so keeping the attempted name tells no one which names exist.
    """
    return str(user.pk) if user is not None else identifier[:TARGET_ID_MAX_LENGTH]


def login_keys(*, identifier: str, user: User | None) -> LoginKeys:
    """Known accounts count by id (username and email share a count), unknown ones by name;
    the address is the request's."""
    account = f"user:{user.pk}" if user is not None else f"name:{identifier.casefold()[:300]}"
    ip = current_request_origin().ip
    return LoginKeys(account=account, ip=ip, user=user, identifier=identifier)


def login_attempt_begin(keys: LoginKeys) -> LoginAttempt:
    """Admit one attempt (in flight until decided), or raise a 429.

    AccountLocked when the account has had its failures, LoginRateLimited when the address
    has. While the account's places are taken by attempts in flight this waits for them to be
    decided, up to `LOGIN_ATTEMPT_WAIT` seconds (then LoginRateLimited: try again shortly).
    A refused attempt counts nowhere.
    """
    attempt = LoginAttempt(keys=keys, id=uuid.uuid4().hex)
    deadline = time.monotonic() + settings.LOGIN_ATTEMPT_WAIT
    pause = FIRST_PAUSE
    while True:
        with transaction.atomic():
            verdict = _admit(attempt)
        if verdict is None:
            return attempt
        if not isinstance(verdict, _Busy):
            _refused(keys, verdict)
        if time.monotonic() + pause > deadline:
            auth_event_log("auth.login_busy", user=_user_id(keys))
            raise LoginRateLimited(
                verdict.wait, "Too many logins of this account at once; try again shortly."
            )
        time.sleep(pause * random.uniform(0.5, 1.0))  # noqa: S311 (spreads polls; no secret)  # nosec B311
        pause = min(pause * 2, LONGEST_PAUSE)


@transaction.atomic
def login_attempt_failed(attempt: LoginAttempt) -> None:
    """A wrong password: a failure of the account and of the address."""
    keys, now = attempt.keys, timezone.now()
    account = _counter_locked(Scope.ACCOUNT, keys.account, user=keys.user, now=now)
    address = _counter_locked(Scope.IP, keys.ip, user=None, now=now)
    for counter in (account, address):
        # None: no address, or an unlock deleted the row this very moment (the unlock wins).
        if counter is None:
            continue
        _window_roll(counter, now)
        counter.in_flight = _live(counter, now, without=attempt.id)
        counter.failures += 1
        counter.save(update_fields=["failures", "window_started_at", "locked_until", "in_flight"])


@transaction.atomic
def login_attempt_succeeded(attempt: LoginAttempt) -> None:
    """The right password: the account's count starts again (the address's stays)."""
    _in_flight_end(attempt, reset=True)


def login_attempt_abandoned(attempt: LoginAttempt) -> None:
    """Neither decided nor counted (something failed on the way): give its place back.

    Best effort: if the database fails here too, the place frees itself after
    IN_FLIGHT_TIMEOUT, and the error that brought the caller here is the one to report.
    """
    try:
        with transaction.atomic():
            _in_flight_end(attempt, reset=False)
    except DatabaseError:
        auth_event_log(
            "auth.login_attempt_not_released", level=logging.WARNING, user=_user_id(attempt.keys)
        )


@transaction.atomic
def login_lock_clear(*, user: User, actor: User | None = None) -> int:
    """Unlock an account (admin action, `manage.py unlock_user`); returns counters cleared."""
    cleared = _counters_clear(
        LoginFailureCounter.objects.filter(scope=Scope.ACCOUNT, key=f"user:{user.pk}"),
        actor=actor,
    )
    auth_event_log("auth.unlocked", user=str(user.pk))
    return cleared


@transaction.atomic
def login_locks_clear(*, counter_ids: list[int], actor: User | None = None) -> int:
    """Clear the given counters (the admin's lockout page); returns how many were cleared."""
    cleared = _counters_clear(LoginFailureCounter.objects.filter(pk__in=counter_ids), actor=actor)
    auth_event_log("auth.unlocked", counters=len(counter_ids))
    return cleared


def _counters_clear(counters: QuerySet[LoginFailureCounter], *, actor: User | None) -> int:
    """Delete the counters, each with a `user.unlocked` record naming what it counted."""
    # Locked in the order a login locks them (account, then address), so neither waits on
    # the other in a cycle.
    found = list(counters.select_for_update().order_by("scope", "key"))
    LoginFailureCounter.objects.filter(pk__in=[c.pk for c in found]).delete()
    audit_records_write(
        events=[
            AuditEvent(
                action="user.unlocked",
                target_type="user",
                target_id=_counter_target_id(counter),
                actor=actor,
                changes=audit_changes(
                    {
                        "counter": f"{counter.scope}:{counter.key}",
                        "failures": counter.failures,
                        "locked_until": counter.locked_until,
                    },
                    {"counter": None, "failures": 0, "locked_until": None},
                ),
            )
            for counter in found
        ]
    )
    return len(found)


def _counter_target_id(counter: LoginFailureCounter) -> str:
    """The account's id, the name tried for no account, or "" for an address."""
    if counter.user_id is not None:
        return str(counter.user_id)
    if counter.scope == Scope.ACCOUNT:
        return counter.key.removeprefix("name:").removeprefix("user:")
    return ""


def _admit(attempt: LoginAttempt) -> tuple[str, float] | _Busy | None:
    """Under row locks (account, then address): None when admitted, (scope, seconds to
    wait) when refused, _Busy when the account's places are all taken by attempts in flight.
    """
    keys, now = attempt.keys, timezone.now()
    account = _counter_locked(Scope.ACCOUNT, keys.account, user=keys.user, now=now)
    if account is None:
        return _Busy(0)
    address = _counter_locked(Scope.IP, keys.ip, user=None, now=now, create=False)
    limits = [(account, settings.LOGIN_FAILURE_LIMIT)]
    if address is not None:
        limits.append((address, settings.LOGIN_IP_FAILURE_LIMIT))
    for counter, limit in limits:
        _window_roll(counter, now)
        refused = _lock(counter, limit, keys, now)
        if refused is not None:
            return refused
    live = _live(account, now)
    if account.failures + len(live) >= settings.LOGIN_FAILURE_LIMIT:
        account.save(update_fields=["failures", "window_started_at", "locked_until"])
        return _Busy(min(live.values(), default=now.timestamp()) - now.timestamp())
    live[attempt.id] = (now + IN_FLIGHT_TIMEOUT).timestamp()
    account.in_flight = live
    account.save(update_fields=["failures", "window_started_at", "locked_until", "in_flight"])
    return None


def _lock(
    counter: LoginFailureCounter, limit: int, keys: LoginKeys, now: datetime
) -> tuple[str, float] | None:
    """(scope, seconds) if the counter refuses every attempt now; the first refusal after
    the failures reached the limit starts the lock (an account's is recorded, once: the
    refusals that follow are not, so a flood of attempts cannot flood the trail)."""
    locked = counter.locked_until is not None and counter.locked_until > now
    if not locked and counter.failures >= limit:
        counter.locked_until = counter.window_started_at + timedelta(
            seconds=settings.LOGIN_FAILURE_WINDOW
        )
        counter.save(update_fields=["failures", "window_started_at", "locked_until"])
        if counter.scope == Scope.ACCOUNT:
            audit_record_write(
                action="user.locked_out",
                target_type="user",
                target_id=login_target_id(identifier=keys.identifier, user=keys.user),
                changes={
                    "locked_until": [None, json_safe(counter.locked_until)],
                    "scope": [None, counter.scope],
                },
            )
    if counter.locked_until is not None and counter.locked_until > now:
        return counter.scope, (counter.locked_until - now).total_seconds()
    return None


def _in_flight_end(attempt: LoginAttempt, *, reset: bool) -> None:
    """Take the attempt out of the account's attempts in flight; `reset` starts the count
    again. A counter with nothing left to count is deleted."""
    now = timezone.now()
    counter = (
        LoginFailureCounter.objects.select_for_update()
        .filter(scope=Scope.ACCOUNT, key=attempt.keys.account)
        .first()
    )
    if counter is None:
        return
    counter.in_flight = _live(counter, now, without=attempt.id)
    if reset:
        counter.failures, counter.locked_until, counter.window_started_at = 0, None, now
    if not (counter.failures or counter.in_flight or counter.locked_until):
        counter.delete()
        return
    counter.save(update_fields=["failures", "window_started_at", "locked_until", "in_flight"])


def _counter_locked(
    scope: str, key: str | None, *, user: User | None, now: datetime, create: bool = True
) -> LoginFailureCounter | None:
    """The counter, locked for this transaction; created first if missing (and `create`).

    A missing one is made with INSERT … ON CONFLICT DO NOTHING (SQLite: INSERT OR IGNORE) and
    then read with SELECT … FOR UPDATE, so parallel first attempts all find the one row where
    get_or_create raced to a unique violation. None if there is none, or if it was deleted in
    between (by a success with nothing else in flight, or an unlock).
    """
    if key is None:
        return None
    counters = LoginFailureCounter.objects.select_for_update().filter(scope=scope, key=key)
    counter = counters.first()
    if counter is None and create:
        LoginFailureCounter.objects.bulk_create(
            [LoginFailureCounter(scope=scope, key=key, window_started_at=now, user=user)],
            ignore_conflicts=True,
        )
        counter = counters.first()
    return counter


def _window_roll(counter: LoginFailureCounter, now: datetime) -> None:
    """A window that has passed starts again, empty (its attempts in flight still count)."""
    if counter.window_started_at + timedelta(seconds=settings.LOGIN_FAILURE_WINDOW) <= now:
        counter.failures, counter.locked_until, counter.window_started_at = 0, None, now


def _live(counter: LoginFailureCounter, now: datetime, without: str = "") -> dict[str, float]:
    """The counter's attempts in flight that still count, less `without`."""
    return {k: v for k, v in counter.in_flight_live(now).items() if k != without}


def _refused(keys: LoginKeys, refusal: tuple[str, float]) -> NoReturn:
    scope, wait = refusal
    if scope == Scope.ACCOUNT:
        auth_event_log("auth.login_locked", user=_user_id(keys))
        raise AccountLocked(wait)
    auth_event_log("auth.login_rate_limited", user=_user_id(keys))
    raise LoginRateLimited(wait)


def _user_id(keys: LoginKeys) -> str | None:
    return str(keys.user.pk) if keys.user else None
