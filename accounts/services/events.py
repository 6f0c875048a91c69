"""The auth event log: one structured line per security-relevant event, with the request id.

The services also write an audit record (audits.services) for each event that changes
something; this line is for log search and alerting, the record is the tamper-evident trail.
"""

from __future__ import annotations

import logging
from typing import Any

from config.core.context import current_request_origin

logger = logging.getLogger("agora.auth")


def auth_event_log(event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log `event` (e.g. "auth.login_failed") with the client's address; never pass passwords,
    tokens or keys."""
    logger.log(level, event, extra={"event": event, "ip": current_request_origin().ip, **fields})
