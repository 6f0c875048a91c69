"""EMAIL_URL as operators write it (API.md: `filemail:///path` is an absolute path)."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

from config.env import BASE_DIR, email_settings


def test_filemail_with_three_slashes_is_an_absolute_path() -> None:
    config = email_settings("filemail:///srv/agora/mail")

    assert config["EMAIL_FILE_PATH"] == "/srv/agora/mail"
    assert config["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend"


def test_filemail_with_a_relative_path_is_under_the_project() -> None:
    config = email_settings("filemail://var/mail")

    assert config["EMAIL_FILE_PATH"] == str(BASE_DIR / "var/mail")


def test_smtp_urls_are_django_environs() -> None:
    config = email_settings("smtp+tls://mailer:s3cret@mail.example.org:587")

    assert config["EMAIL_HOST"] == "mail.example.org"
    assert config["EMAIL_PORT"] == 587
    assert config["EMAIL_HOST_USER"] == "mailer"
    assert config["EMAIL_USE_TLS"] is True


def test_the_settings_read_emails_url_as_an_absolute_path() -> None:
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings; print(settings.EMAIL_FILE_PATH)",
        ],
        cwd=settings.BASE_DIR,
        env={
            **environment,
            "DJANGO_ENV": "development",
            "EMAIL_URL": "filemail:///srv/agora/x%20y",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "/srv/agora/x y"
