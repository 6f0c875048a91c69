"""API keys for service clients: shown once, stored as a hash, revocable."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, User, api_key_credential_id
from accounts.services.events import auth_event_log
from accounts.tokens import secret_hash, secret_make
from audits.services import audit_changes, audit_record_write
from realtime.broadcast import connections_close

KEY_PREFIX = "agora"


def api_key_create(*, user: User, name: str) -> tuple[ApiKey, str]:
    """A new key for `user`; the second value is the secret, which is never stored.

    The owner is the actor of its audit record: keys are made by their owner, or for them
    by an operator at the shell (`manage.py create_api_key`).
    """
    prefix = secrets.token_hex(6)
    raw = f"{KEY_PREFIX}_{prefix}_{secret_make(32)}"
    with transaction.atomic():
        key = ApiKey.objects.create(user=user, name=name, prefix=prefix, key_hash=secret_hash(raw))
        audit_record_write(
            action="api_key.created",
            target_type="api_key",
            target_id=key.pk,
            actor=user,
            changes=audit_changes({}, {"name": name, "prefix": prefix, "user": user.pk}),
        )
    auth_event_log("auth.api_key_created", user=str(user.pk), key=str(key.pk))
    return key, raw


def api_key_revoke(*, key: ApiKey, actor: User | None = None) -> None:
    """Revoke `key`; `actor` is whoever did it (an admin), by default the key's owner."""
    if key.revoked_at is not None:
        return
    now = timezone.now()
    with transaction.atomic():
        revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now)
        if revoked:
            audit_record_write(
                action="api_key.revoked",
                target_type="api_key",
                target_id=key.pk,
                actor=actor if actor is not None else key.user,
                changes=audit_changes({"revoked_at": None}, {"revoked_at": now}),
            )
    if revoked:
        auth_event_log("auth.api_key_revoked", user=str(key.user_id), key=str(key.pk))
        credential = api_key_credential_id(key.pk)
        transaction.on_commit(
            lambda: connections_close(user_id=str(key.user_id), session_id=credential)
        )


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The live key `raw` stands for, with its active owner loaded; records its use."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    key = ApiKey.objects.select_related("user").filter(prefix=parts[1]).first()
    if (
        key is None
        or not hmac.compare_digest(key.key_hash, secret_hash(raw))
        or key.revoked_at is not None
        or not key.user.is_active
    ):
        return None
    now = timezone.now()
    resolution = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION)
    if key.last_used_at is None or now - key.last_used_at >= resolution:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
