"""Helpers for the accounts tests: logging in through the real endpoint, reading mail."""

from __future__ import annotations

import re
import time
from typing import Any

from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core import mail
from rest_framework.test import APIClient

from tests.factories import PASSWORD

TOKEN_URL = "/api/v1/auth/token"


class TimedHasher(PBKDF2PasswordHasher):
    """A real hash of about a tenth of a second (the suite's MD5 takes microseconds; bcrypt in
    production about a quarter), so parallel logins overlap while their passwords are checked,
    as they do in production."""

    algorithm = "pbkdf2_sha256_timed"
    iterations = 150_000


def login(client: APIClient, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    """POST the password grant; `HTTP_*` keywords are headers, the rest go into the body."""
    headers = {k: v for k, v in extra.items() if k.startswith("HTTP_")}
    fields = {k: v for k, v in extra.items() if not k.startswith("HTTP_")}
    body = {"grant_type": "password", "username": username, "password": password, **fields}
    return client.post(TOKEN_URL, body, format="json", **headers)


def authed(access_token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return client


def wait_for_mail(count: int = 1, timeout: float = 15.0) -> list[mail.EmailMessage]:
    """Emails are sent by the real worker thread; wait (bounded) until `count` arrived."""
    deadline = time.monotonic() + timeout
    while len(mail.outbox) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(mail.outbox) >= count, f"expected {count} email(s), got {len(mail.outbox)}"
    return list(mail.outbox)


def token_in(message: mail.EmailMessage) -> str:
    """The token printed on its own line in an account email."""
    match = re.search(r"\?token=([^\s]+)", message.body)
    assert match, message.body
    from urllib.parse import unquote

    return unquote(match.group(1))
