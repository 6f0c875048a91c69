"""The heartbeat: proof that beat and a worker are alive (read by /health/ready)."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.utils import timezone

from tasks.selectors import HEARTBEAT_CACHE_KEY

logger = logging.getLogger("agora.tasks")


def heartbeat_record() -> str:
    """Record that beat and a worker are alive; the time is kept for a day."""
    now = timezone.now().isoformat()
    cache.set(HEARTBEAT_CACHE_KEY, now, timeout=24 * 60 * 60)
    logger.info("heartbeat", extra={"at": now})
    return now
