"""The store of `Idempotency-Key` answers (app label `config`, see config/models.py)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from uuid_utils.compat import uuid7


class IdempotencyKey(models.Model):
    """One `Idempotency-Key` of one caller: a claim while its request runs, then its answer.

    `fingerprint` is a keyed SHA-256 of method, path, query and body (see the mixin), so
    a body holding a password is never stored, not even as a plain hash. Rows live 24 hours
    (`config.api.idempotency.store.idempotency_keys_purge`).
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    scope = models.CharField(max_length=100, help_text="`user:<id>`, or `ip:<address>`.")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.TextField()
    fingerprint = models.CharField(max_length=64)
    completed = models.BooleanField(default=False)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.BinaryField(default=b"", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "config"
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="config_idempotency_scope_key"),
        ]
        indexes = [models.Index(fields=["created_at"], name="config_idempotency_created")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
