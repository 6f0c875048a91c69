"""Log record enrichment and formatting: every line carries the current request id."""

from __future__ import annotations

import logging
import logging.config
from typing import Any
from urllib.parse import parse_qsl, urlencode

from config.core.context import current_request_id

SENSITIVE_QUERY_KEYS = frozenset(
    {
        "token",
        "ticket",
        "access_token",
        "refresh_token",
        "key",
        "api_key",
        "password",
        "secret",
    }
)
_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "request_id", "taskName", "extras"}
)


def redact_query(query_string: str) -> str:
    """The query string with the values of credential-bearing parameters replaced."""
    if not query_string:
        return ""
    pairs = parse_qsl(query_string, keep_blank_values=True)
    return urlencode(
        [
            (key, "[redacted]" if key.lower() in SENSITIVE_QUERY_KEYS else value)
            for key, value in pairs
        ]
    )


def configure_logging(logging_settings: dict[str, Any]) -> None:
    """Django's LOGGING_CONFIG: dictConfig, and every record stamped with the request id.

    Stamping at record creation (not in a handler filter) captures the id in the thread and
    context that logged, and every handler sees it, test capture handlers included.
    """
    logging.config.dictConfig(logging_settings)
    base_factory = logging.getLogRecordFactory()
    if getattr(base_factory, "stamps_request_id", False):
        return

    def record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base_factory(*args, **kwargs)
        record.request_id = current_request_id() or "-"
        return record

    record_factory.stamps_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(record_factory)


class ConsoleFormatter(logging.Formatter):
    """Human-readable lines that still show the structured fields passed as `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        extras = {
            key: value
            for key, value in record.__dict__.items()
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")
        }
        record.extras = "".join(f" {key}={value}" for key, value in extras.items())
        return super().format(record)
