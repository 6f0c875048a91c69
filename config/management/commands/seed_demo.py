"""Loads demo data through the services; running it again changes nothing."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Role
from accounts.services import user_ensure

DEMO_USERS: tuple[tuple[str, str, Role], ...] = (
    ("ada", "Ada Lovelace", Role.ADMIN),
    ("grace", "Grace Hopper", Role.ADMIN),
    ("mueller", "Jürgen Müller", Role.USER),
    ("obrien", "Siobhán O'Brien", Role.USER),
    ("lilei", "李雷", Role.USER),
    ("zoe", "Zoë Ångström 🚀", Role.USER),
    ("hanmeimei", "韩梅梅", Role.GUEST),
    ("dvorak", "Antonín Dvořák", Role.GUEST),
)


class Command(BaseCommand):
    help = "Create demo users of every role (idempotent). Refused in production."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.DJANGO_ENV == "production":
            raise CommandError("Demo data is not loaded in production.")
        password = settings.DEMO_PASSWORD
        created = 0
        for username, display_name, role in DEMO_USERS:
            _, was_created = user_ensure(
                username=username,
                email=f"{username}@demo.agora.localhost",
                password=password,
                role=role,
                display_name=display_name,
            )
            created += was_created
        self.stdout.write(
            f"Demo data: {created} users created, {len(DEMO_USERS) - created} already there. "
            f"Demo users log in with password '{password}'."
        )
