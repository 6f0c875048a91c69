"""The request id of the work in progress, carried through HTTP, Celery tasks and WebSockets."""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass

from uuid_utils.compat import uuid7

USER_AGENT_MAX_LENGTH = 512
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


@dataclass(frozen=True)
class RequestOrigin:
    """Where the work in progress came from, as audit records tell it."""

    ip: str | None = None
    user_agent: str = ""


request_origin_var: ContextVar[RequestOrigin | None] = ContextVar("request_origin", default=None)


def current_request_origin() -> RequestOrigin:
    return request_origin_var.get() or RequestOrigin()


def current_request_id() -> str | None:
    return request_id_var.get()


def new_request_id() -> str:
    return str(uuid7())


def accept_request_id(candidate: str | None) -> str:
    """The client's request id when it is well-formed, else a fresh one."""
    if candidate and REQUEST_ID_PATTERN.fullmatch(candidate):
        return candidate
    return new_request_id()
