"""Management commands that `make run` uses."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Role, User
from config.management.commands.seed_demo import DEMO_POSTS, DEMO_USERS

pytestmark = pytest.mark.django_db


def _run(name: str, **kwargs: object) -> str:
    out = StringIO()
    call_command(name, stdout=out, **kwargs)
    return out.getvalue()


def test_seed_demo_creates_users_of_every_role_with_unicode_names() -> None:
    output = _run("seed_demo")

    assert f"{len(DEMO_USERS)} users created" in output
    assert set(User.objects.values_list("role", flat=True)) == {Role.ADMIN, Role.USER, Role.GUEST}
    assert User.objects.filter(display_name="李雷").exists()
    assert User.objects.filter(display_name="Siobhán O'Brien").exists()
    assert User.objects.get(username="ada").is_staff


def test_seed_demo_is_idempotent() -> None:
    _run("seed_demo")
    before = list(
        User.objects.order_by("username").values_list("id", "username", "role", "password")
    )

    output = _run("seed_demo")

    assert "0 users created" in output
    after = list(
        User.objects.order_by("username").values_list("id", "username", "role", "password")
    )
    assert after == before


def test_seed_demo_creates_posts_and_comments_once_through_the_services() -> None:
    from audits.models import AuditRecord
    from content.models import Comment, Post

    first = _run("seed_demo")
    second = _run("seed_demo")

    assert f"{len(DEMO_POSTS)} posts created" in first
    assert "0 posts created" in second
    assert Post.objects.count() == len(DEMO_POSTS)
    assert Comment.objects.count() == sum(len(p[5]) for p in DEMO_POSTS)
    assert AuditRecord.objects.filter(action="post.created").count() == len(DEMO_POSTS)
    assert AuditRecord.objects.filter(action="comment.created").count() == Comment.objects.count()


def test_demo_users_can_log_in_with_the_demo_password(settings) -> None:
    _run("seed_demo")

    assert User.objects.get(username="mueller").check_password(settings.DEMO_PASSWORD)


def test_seed_demo_refuses_production(settings) -> None:
    settings.DJANGO_ENV = "production"

    with pytest.raises(CommandError, match="not loaded in production"):
        _run("seed_demo")

    assert not User.objects.exists()


def test_ensure_admin_creates_an_admin_once_and_prints_the_password(settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path

    first = _run("ensure_admin")
    second = _run("ensure_admin")

    password = (tmp_path / "local-admin-password.txt").read_text().strip()
    admin = User.objects.get(username="admin")
    assert admin.role == Role.ADMIN
    assert admin.check_password(password)
    assert password in first
    assert password in second
    assert User.objects.filter(username="admin").count() == 1


def test_ensure_admin_refuses_production(settings) -> None:
    settings.DJANGO_ENV = "production"

    with pytest.raises(CommandError):
        _run("ensure_admin")
