"""Makes sure a local administrator exists and says how to log in (development only)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.services import user_ensure_superuser


class Command(BaseCommand):
    help = "Create the local admin account if missing and print its credentials."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@agora.localhost")

    def handle(self, *args: Any, username: str, email: str, **options: Any) -> None:
        if settings.DJANGO_ENV == "production":
            raise CommandError("Use `manage.py createsuperuser` in production.")
        password_file = settings.VAR_DIR / "local-admin-password.txt"
        password = (
            password_file.read_text().strip()
            if password_file.exists()
            else secrets.token_urlsafe(12)
        )
        user, created = user_ensure_superuser(username=username, email=email, password=password)
        if created:
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        elif not password_file.exists():
            self.stdout.write(f"Admin '{user.username}' exists; its password was set elsewhere.")
            return
        self.stdout.write(
            f"Admin login: username '{user.username}', password '{password}'"
            f" (kept in {password_file})"
        )
