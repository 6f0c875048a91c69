"""Factories with realistic, deliberately international data."""

from __future__ import annotations

import factory

from accounts.models import Role, User
from accounts.services import login_session_start
from accounts.tokens import TokenPair
from config.core.context import RequestOrigin, request_origin

PASSWORD = "correct horse battery"

DISPLAY_NAMES = ("Siobhán O'Brien", "Jürgen Müller", "李雷", "Zoë 🚀 Ångström", "Ελένη Παππά")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}_müller")
    email = factory.Sequence(lambda n: f"user{n}@example.org")
    display_name = factory.Iterator(DISPLAY_NAMES)
    role = Role.USER
    email_verified = True
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def persist_password(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save(update_fields=["password"])


class AdminFactory(UserFactory):
    role = Role.ADMIN
    is_staff = True
    is_superuser = True


class GuestFactory(UserFactory):
    """A fresh sign-up whose email is not verified yet."""

    role = Role.GUEST
    email_verified = False


def token_pair(user: User, *, ip: str = "127.0.0.1") -> TokenPair:
    """A real login session for `user`, as `POST auth/token` from `ip` would start it."""
    with request_origin(RequestOrigin(ip=ip)):
        return login_session_start(user=user)


def bearer(user: User) -> str:
    """An `Authorization` header value for `user`, backed by a real login session."""
    return f"Bearer {token_pair(user).access_token}"
