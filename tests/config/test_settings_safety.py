"""Production refuses unsafe settings and names every problem at once."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings

from config.settings.safety import production_problems

SAFE_KEY = "k3y-" + "x9Q2-pL7#vB4!mZ8_wR1^tY6&nC3*hJ5%" * 2


def test_safe_settings_have_no_problems() -> None:
    assert (
        production_problems(secret_key=SAFE_KEY, debug=False, allowed_hosts=["api.example.org"])
        == []
    )


@pytest.mark.parametrize(
    ("secret_key", "expected"),
    [
        ("", "SECRET_KEY is not set."),
        (settings.INSECURE_DEFAULT_SECRET_KEY, "SECRET_KEY is a default value"),
        ("django-insecure-" + "a" * 60, "SECRET_KEY is a default value"),
        ("short-key", "SECRET_KEY is too short or too simple"),
        ("ab" * 40, "SECRET_KEY is too short or too simple"),
    ],
)
def test_unsafe_secret_key_is_named(secret_key: str, expected: str) -> None:
    problems = production_problems(secret_key=secret_key, debug=False, allowed_hosts=["a.org"])
    assert len(problems) == 1
    assert problems[0].startswith(expected)


def test_debug_on_is_named() -> None:
    problems = production_problems(secret_key=SAFE_KEY, debug=True, allowed_hosts=["a.org"])
    assert problems == ["DEBUG is on; it leaks settings and tracebacks."]


@pytest.mark.parametrize("hosts", [["*"], ["api.example.org", "*"], ["*.example.org"]])
def test_wildcard_allowed_hosts_is_named(hosts: list[str]) -> None:
    problems = production_problems(secret_key=SAFE_KEY, debug=False, allowed_hosts=hosts)
    assert problems == ["ALLOWED_HOSTS contains a wildcard; name the hosts explicitly."]


def test_empty_allowed_hosts_is_named() -> None:
    problems = production_problems(secret_key=SAFE_KEY, debug=False, allowed_hosts=[])
    assert problems == ["ALLOWED_HOSTS is empty; name the hosts this server answers for."]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base_env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**base_env, "DJANGO_ENV": "production", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_startup_lists_every_problem_at_once() -> None:
    result = _manage("check", DEBUG="true", ALLOWED_HOSTS="*", SECRET_KEY="short")

    assert result.returncode != 0
    assert "Refusing to start with an unsafe production configuration" in result.stderr
    assert "SECRET_KEY is too short" in result.stderr
    assert "DEBUG is on" in result.stderr
    assert "ALLOWED_HOSTS contains a wildcard" in result.stderr


def test_production_startup_reports_an_unset_secret_key() -> None:
    result = _manage("check", ALLOWED_HOSTS="api.example.org")

    assert result.returncode != 0
    assert "SECRET_KEY is not set." in result.stderr


def test_production_with_safe_settings_passes_the_deploy_checks() -> None:
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=SAFE_KEY,
        ALLOWED_HOSTS="api.example.org",
    )

    assert result.returncode == 0, result.stderr
