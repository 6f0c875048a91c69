"""API keys for service clients: shown once, stored as a hash, revocable."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, User
from accounts.services.events import auth_event_log
from accounts.tokens import secret_hash, secret_make

KEY_PREFIX = "agora"


def api_key_create(*, user: User, name: str) -> tuple[ApiKey, str]:
    """A new key for `user`; the second value is the secret, which is never stored."""
    prefix = secrets.token_hex(6)
    raw = f"{KEY_PREFIX}_{prefix}_{secret_make(32)}"
    with transaction.atomic():
        key = ApiKey.objects.create(user=user, name=name, prefix=prefix, key_hash=secret_hash(raw))
    auth_event_log("auth.api_key_created", user=str(user.pk), key=str(key.pk))
    return key, raw


def api_key_revoke(*, key: ApiKey) -> None:
    if key.revoked_at is None:
        ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        auth_event_log("auth.api_key_revoked", user=str(key.user_id), key=str(key.pk))


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
