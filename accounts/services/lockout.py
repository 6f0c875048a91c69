"""Login failure counting and lockout, in the database and atomic under parallel bursts.

Every attempt is counted *before* the password is checked, under a row lock, so a burst of
parallel guesses cannot slip past the limit while the slow hash runs; a success then takes
its own attempt back (and, for the account, clears the count).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.exceptions import AccountLocked
from accounts.models import LoginFailureCounter, User
from accounts.services.events import auth_event_log
from audits.services import (
    TARGET_ID_MAX_LENGTH,
    AuditEvent,
    audit_changes,
    audit_records_write,
    json_safe,
)

Scope = LoginFailureCounter.Scope


@dataclass(frozen=True)
class LoginKeys:
    """What one login attempt is counted against."""

    account: str
    ip: str | None
    user: User | None
    identifier: str = ""

    def targets(self) -> list[tuple[str, str, int]]:
        found = [(Scope.ACCOUNT.value, self.account, settings.LOGIN_FAILURE_LIMIT)]
        if self.ip:
            found.append((Scope.IP.value, self.ip, settings.LOGIN_IP_FAILURE_LIMIT))
        return found


def login_target_id(*, identifier: str, user: User | None) -> str:
    """What a login attempt's audit record names: the account, or the name tried for none.

    Only admins read the audit, so keeping the attempted name tells no one which names exist.
    """
    return str(user.pk) if user is not None else identifier[:TARGET_ID_MAX_LENGTH]


def login_keys(*, identifier: str, user: User | None, ip: str | None) -> LoginKeys:
    """Known accounts count by id (username and email share a count), unknown ones by name."""
    account = f"user:{user.pk}" if user is not None else f"name:{identifier.casefold()[:300]}"
    return LoginKeys(account=account, ip=ip, user=user, identifier=identifier)


def login_attempt_begin(keys: LoginKeys) -> None:
    """Count one attempt; raise AccountLocked (429) when the account or address is locked.

    A refused attempt counts nowhere, so a locked address cannot push an account's count.
    """
    with transaction.atomic():
        locked = _attempt_count(keys)
    if locked is not None:
        scope, wait = locked
        auth_event_log(
            "auth.login_locked",
            scope=scope,
            user=str(keys.user.pk) if keys.user else None,
            ip=keys.ip,
        )
        raise AccountLocked(wait)


def login_attempt_succeeded(keys: LoginKeys) -> None:
    """A success clears the account's count and takes its attempt back from the address."""
    LoginFailureCounter.objects.filter(scope=Scope.ACCOUNT, key=keys.account).delete()
    if keys.ip:
        LoginFailureCounter.objects.filter(scope=Scope.IP, key=keys.ip).update(
            failures=Greatest(F("failures") - 1, 0)
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
    found = list(counters.select_for_update().order_by("pk"))
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


def _attempt_count(keys: LoginKeys) -> tuple[str, float] | None:
    """Under row locks (account first, then address): (scope, seconds to wait) if refused."""
    now = timezone.now()
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW)
    counters = []
    for scope, key, limit in keys.targets():
        counter, _ = LoginFailureCounter.objects.select_for_update().get_or_create(
            scope=scope,
            key=key,
            defaults={"window_started_at": now, "user": keys.user if scope == "account" else None},
        )
        if counter.locked_until is not None and counter.locked_until > now:
            return scope, (counter.locked_until - now).total_seconds()
        if counter.window_started_at + window <= now:
            counter.failures = 0
            counter.window_started_at = now
            counter.locked_until = None
        counters.append((counter, limit))
    refused: tuple[str, float] | None = None
    for counter, limit in counters:
        counter.failures += 1
        if counter.failures > limit:
            counter.locked_until = counter.window_started_at + window
            refused = refused or (counter.scope, (counter.locked_until - now).total_seconds())
        counter.save(update_fields=["failures", "window_started_at", "locked_until"])
    locks = [counter for counter, _ in counters if counter.locked_until is not None]
    if locks:
        # The attempt that starts a lock is recorded once; the refusals that follow are not,
        # so a flood of attempts against a locked account cannot flood the trail.
        audit_records_write(
            events=[
                AuditEvent(
                    action="user.locked_out",
                    target_type="user",
                    target_id=login_target_id(identifier=keys.identifier, user=keys.user),
                    changes={
                        "locked_until": [None, json_safe(counter.locked_until)],
                        "scope": [None, counter.scope],
                    },
                )
                for counter in locks
            ]
        )
    return refused
