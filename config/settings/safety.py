"""Checks that production settings are safe; every problem is reported, not only the first."""

from __future__ import annotations

from collections.abc import Sequence

MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_UNIQUE_CHARACTERS = 5
KNOWN_DEFAULT_SECRET_KEYS = frozenset(
    {
        "django-insecure-agora-development-key-do-not-use-in-production",
        "change-me",
        "changeme",
        "secret",
    }
)


def production_problems(*, secret_key: str, debug: bool, allowed_hosts: Sequence[str]) -> list[str]:
    """Every reason the given settings are unsafe to serve production traffic with."""
    problems: list[str] = []
    if not secret_key:
        problems.append("SECRET_KEY is not set.")
    elif secret_key in KNOWN_DEFAULT_SECRET_KEYS or secret_key.startswith("django-insecure"):
        problems.append("SECRET_KEY is a default value; generate a new random one.")
    elif (
        len(secret_key) < MIN_SECRET_KEY_LENGTH
        or len(set(secret_key)) < MIN_SECRET_KEY_UNIQUE_CHARACTERS
    ):
        problems.append(
            f"SECRET_KEY is too short or too simple (at least {MIN_SECRET_KEY_LENGTH} "
            f"characters with {MIN_SECRET_KEY_UNIQUE_CHARACTERS} distinct ones)."
        )
    if debug:
        problems.append("DEBUG is on; it leaks settings and tracebacks.")
    if not allowed_hosts:
        problems.append("ALLOWED_HOSTS is empty; name the hosts this server answers for.")
    elif any(host == "*" or host.startswith("*") for host in allowed_hosts):
        problems.append("ALLOWED_HOSTS contains a wildcard; name the hosts explicitly.")
    return problems
