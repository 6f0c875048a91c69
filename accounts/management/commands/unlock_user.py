"""Lift a login lockout before its window ends (the admin's "Unlock" action does the same)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import user_for_login
from accounts.services import login_lock_clear


class Command(BaseCommand):
    help = "Clear the failed-login count of an account, given its username or email."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("account", help="Username or email.")

    def handle(self, *args: Any, account: str, **options: Any) -> None:
        user = user_for_login(account)
        if user is None:
            raise CommandError(f"No account with username or email {account!r}.")
        cleared = login_lock_clear(user=user)
        state = "unlocked" if cleared else "was not locked"
        self.stdout.write(f"{user.username} {state}.")
