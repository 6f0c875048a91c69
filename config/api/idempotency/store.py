"""The idempotency key store: claim, complete, release and purge keys.

A claim is its own committed row before the request's work starts: the unique (scope, key)
constraint is what lets exactly one of several concurrent requests with one key run. (With
ATOMIC_REQUESTS on, the claim would commit with the request and that guarantee would be gone;
it is off.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from config.api.idempotency.models import IdempotencyKey

logger = logging.getLogger("agora.idempotency")

_CLAIM_ATTEMPTS = 3


class IdempotencyKeyReused(Exception):
    """The key was already used with another request (method, path or body)."""


class IdempotencyKeyInProgress(Exception):
    """The request that first used the key is still running."""


@dataclass(frozen=True)
class IdempotencyClaim:
    """The row of a key; `replay` when it holds a finished answer to hand out again."""

    row: IdempotencyKey
    replay: bool


def idempotency_claim(
    *, scope: str, key: str, method: str, path: str, fingerprint: str
) -> IdempotencyClaim:
    """Claim `key` for this request, or find the answer it already has.

    Raises IdempotencyKeyReused or IdempotencyKeyInProgress. A row past its 24 h, or a claim
    whose request died without releasing it (older than IDEMPOTENCY_CLAIM_TIMEOUT), counts as
    absent and is replaced.
    """
    for _ in range(_CLAIM_ATTEMPTS):
        row = IdempotencyKey(
            scope=scope, key=key, method=method, path=path, fingerprint=fingerprint
        )
        try:
            _insert(row)
            return IdempotencyClaim(row, replay=False)
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(scope=scope, key=key).first()
        if existing is None:
            continue  # released between our insert and this read
        now = timezone.now()
        expired = existing.created_at <= now - settings.IDEMPOTENCY_KEY_TTL
        abandoned = (
            not existing.completed
            and existing.created_at <= now - settings.IDEMPOTENCY_CLAIM_TIMEOUT
        )
        if expired or abandoned:
            IdempotencyKey.objects.filter(pk=existing.pk).delete()
            continue
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused
        if not existing.completed:
            raise IdempotencyKeyInProgress
        return IdempotencyClaim(existing, replay=True)
    raise IdempotencyKeyInProgress


def _insert(row: IdempotencyKey) -> None:
    """One INSERT, committed by itself: outside a transaction (the request's claim) it needs
    no BEGIN and COMMIT round trips; inside one, a savepoint keeps a clash from breaking it."""
    if connection.in_atomic_block:
        with transaction.atomic():
            row.save(force_insert=True)
    else:
        row.save(force_insert=True)


def idempotency_complete(
    *, claim: IdempotencyKey, status: int, headers: dict[str, str], body: bytes
) -> None:
    """Store the answer of a claimed request for replays."""
    IdempotencyKey.objects.filter(pk=claim.pk).update(
        completed=True, response_status=status, response_headers=headers, response_body=body
    )


def idempotency_release(*, claim: IdempotencyKey) -> None:
    """Give the key back (the request failed), so a retry with it runs anew.

    Never raises: it runs while another error is on its way out.
    """
    try:
        IdempotencyKey.objects.filter(pk=claim.pk, completed=False).delete()
    except DatabaseError:
        logger.exception("Could not release an idempotency key", extra={"scope": claim.scope})


def idempotency_keys_purge() -> int:
    """Delete keys older than IDEMPOTENCY_KEY_TTL (24 h); returns how many. Run daily."""
    cutoff = timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
