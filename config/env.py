"""Reads the environment once (including an optional `.env`) and picks the settings module."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("development", "test", "production")

env = environ.Env()
# Real environment variables win over the file: `.env` only fills gaps.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def settings_module() -> str:
    """The settings module for `DJANGO_ENV` (development when unset)."""
    name = os.environ.get("DJANGO_ENV", "development").strip().lower() or "development"
    if name not in ENVIRONMENTS:
        raise RuntimeError(f"DJANGO_ENV must be one of {', '.join(ENVIRONMENTS)}, not {name!r}.")
    return f"config.settings.{name}"


def configure_settings_module() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module())


def project_path(value: str) -> Path:
    """A directory setting: an absolute path as given, a relative one under the project root."""
    path = Path(value)
    return path if path.is_absolute() else BASE_DIR / path


def email_settings(url: str) -> dict[str, Any]:
    """Django's EMAIL_* settings for `EMAIL_URL` (`smtp://…`, `consolemail://`, `filemail://…`).

    django-environ drops the leading slash of `filemail:///var/mail/agora`, so the mail would
    land in `var/mail/agora` under the working directory. Here `filemail:///path` is that
    absolute path, and `filemail://dir/sub` is `dir/sub` under the project root.
    """
    config = environ.Env.email_url_config(url)
    if urlsplit(url).scheme == "filemail":
        parts = urlsplit(url)
        path = unquote(parts.netloc + parts.path)
        config["EMAIL_FILE_PATH"] = str(path if not parts.netloc else BASE_DIR / path)
        config["EMAIL_HOST"] = None
    return config
