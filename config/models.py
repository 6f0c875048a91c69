"""The `config` app's models. Each lives with the feature it serves; Django looks for them here."""

from config.api.idempotency.models import IdempotencyKey

__all__ = ["IdempotencyKey"]
