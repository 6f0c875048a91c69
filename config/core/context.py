"""The request id and origin of the work in progress, carried through HTTP, Celery tasks and
WebSockets.

The origin (client address and user agent) is set once per request by the HTTP middleware
(config.http.client_address.request_origin says how it is read); services read it from here
(login sessions, lockout by address, audit records, auth event logs) instead of taking it as
arguments, so it is read and cut in one place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from uuid_utils.compat import uuid7

USER_AGENT_MAX_LENGTH = 512
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


@dataclass(frozen=True)
class RequestOrigin:
    """Where the work in progress came from: the client's address and its user agent, cut
    to USER_AGENT_MAX_LENGTH characters (what every model keeping one stores)."""

    ip: str | None = None
    user_agent: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_agent", self.user_agent[:USER_AGENT_MAX_LENGTH])


request_origin_var: ContextVar[RequestOrigin | None] = ContextVar("request_origin", default=None)


def current_request_origin() -> RequestOrigin:
    return request_origin_var.get() or RequestOrigin()


@contextmanager
def request_origin(origin: RequestOrigin) -> Iterator[RequestOrigin]:
    """Work done inside the block comes from `origin` (a request, a WebSocket connection)."""
    token = request_origin_var.set(origin)
    try:
        yield origin
    finally:
        request_origin_var.reset(token)


def current_request_id() -> str | None:
    return request_id_var.get()


def new_request_id() -> str:
    return str(uuid7())


def accept_request_id(candidate: str | None) -> str:
    """The client's request id when it is well-formed, else a fresh one."""
    if candidate and REQUEST_ID_PATTERN.fullmatch(candidate):
        return candidate
    return new_request_id()
