"""Loads demo data through the services; running it again changes nothing."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Role, User
from accounts.services import user_ensure
from content.models import Post
from content.services import comment_create, post_create

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


# (author, title, body, status, tags, [(commenter, comment)])
DEMO_POSTS: tuple[tuple[str, str, str, str, list[str], list[tuple[str, str]]], ...] = (
    (
        "mueller",
        "Straßenbahn-Geschichten aus Köln",
        "Warum die Linie 18 die schönste der Stadt ist.",
        "published",
        ["travel", "köln"],
        [("obrien", "Lovely read — the 18 is great."), ("lilei", "下次去科隆一定试试。")],
    ),
    (
        "obrien",
        "Siobhán's sourdough notes",
        "Hydration, timing and the starter called O'Brien Jr.",
        "published",
        ["baking"],
        [("zoe", "Ångström-level precision 🚀"), ("mueller", "Danke für das Rezept!")],
    ),
    ("lilei", "李雷的读书笔记", "本周读完了三本书。", "published", ["books", "中文"], []),
    ("zoe", "Draft: release checklist", "Not ready yet.", "draft", ["work"], []),
    ("ada", "Welcome to Agora", "House rules and how to get verified.", "archived", ["meta"], []),
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
        posts = self._posts()
        self.stdout.write(
            f"Demo data: {created} users created, {len(DEMO_USERS) - created} already there; "
            f"{posts} posts created. Demo users log in with password '{password}'."
        )

    def _posts(self) -> int:
        """Demo posts and comments, through the services (so they are audited), once."""
        users = {user.username: user for user in User.objects.filter(username__in=_names())}
        if Post.objects.filter(author__in=users.values()).exists():
            return 0
        for author, title, body, status, tags, comments in DEMO_POSTS:
            post = post_create(
                actor=users[author], title=title, body=body, status=status, tags=tags
            )
            for commenter, text in comments:
                comment_create(actor=users[commenter], post=post, body=text)
        return len(DEMO_POSTS)


def _names() -> list[str]:
    return [username for username, _, _ in DEMO_USERS]
