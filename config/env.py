"""Reads the environment once (including an optional `.env`) and picks the settings module."""

from __future__ import annotations

import os
from pathlib import Path

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
