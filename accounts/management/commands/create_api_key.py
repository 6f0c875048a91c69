"""Create an API key for a service account from the shell; prints the secret once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import user_for_login
from accounts.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key acting as the given user (username or email); prints it once."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("account", help="Username or email of the key's owner.")
        parser.add_argument("--name", required=True, help="What the key is for.")

    def handle(self, *args: Any, account: str, name: str, **options: Any) -> None:
        user = user_for_login(account)
        if user is None:
            raise CommandError(f"No account with username or email {account!r}.")
        if not user.is_active:
            raise CommandError(f"{user.username} is deactivated.")
        key, secret = api_key_create(user=user, name=name[:100])
        self.stderr.write(f"API key {key.prefix} for {user.username} ({user.role}). Store it now:")
        self.stdout.write(secret)
