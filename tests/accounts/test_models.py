"""The custom user model and the admin login, from the first migration on."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client

from accounts.models import Role, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_ids_are_uuid7() -> None:
    first, second = UserFactory(), UserFactory()

    assert isinstance(first.pk, uuid.UUID)
    assert first.pk.version == 7
    assert str(first.pk) < str(second.pk)


def test_new_users_are_guests() -> None:
    user = User.objects.create_user(username="neu", email="neu@example.org", password="x" * 12)

    assert user.role == Role.GUEST


def test_email_is_unique_whatever_its_case() -> None:
    UserFactory(email="Zoe@Example.org")

    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(email="zoe@example.ORG")


def test_the_database_refuses_an_unknown_role() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(role="emperor")


def test_the_database_refuses_a_superuser_who_is_not_an_admin() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(is_superuser=True, role=Role.USER)


def test_createsuperuser_noinput_makes_an_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long pass phrase")
    call_command(
        "createsuperuser", "--noinput", username="root", email="root@example.org", verbosity=0
    )

    user = User.objects.get(username="root")
    assert user.role == Role.ADMIN
    assert user.is_superuser
    assert user.check_password("a long pass phrase")


def test_unicode_names_round_trip() -> None:
    user = UserFactory(username="李雷", display_name="Siobhán O'Brien 🚀")
    user.refresh_from_db()

    assert (user.username, user.display_name) == ("李雷", "Siobhán O'Brien 🚀")


def test_an_admin_logs_into_the_admin_site_through_the_login_form() -> None:
    UserFactory(username="boss", role=Role.ADMIN, is_staff=True, is_superuser=True)
    client = Client(enforce_csrf_checks=True)
    login_page = client.get("/admin/login/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.content.decode())

    response = client.post(
        "/admin/login/?next=/admin/",
        {
            "username": "boss",
            "password": "correct horse battery",
            "csrfmiddlewaretoken": csrf.group(1),
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert "Site administration" in client.get("/admin/").content.decode()
    assert client.get("/admin/accounts/user/").status_code == 200


def test_a_plain_user_cannot_log_into_the_admin_site() -> None:
    UserFactory(username="pleb")
    client = Client()

    response = client.post(
        "/admin/login/", {"username": "pleb", "password": "correct horse battery"}
    )

    assert response.status_code == 200
    assert "Please enter the correct username and password" in response.content.decode()
