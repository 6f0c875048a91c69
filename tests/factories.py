"""Factories with realistic, deliberately international data."""

from __future__ import annotations

import factory

from accounts.models import Role, User

DISPLAY_NAMES = ("Siobhán O'Brien", "Jürgen Müller", "李雷", "Zoë 🚀 Ångström", "Ελένη Παππά")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}_müller")
    email = factory.Sequence(lambda n: f"user{n}@example.org")
    display_name = factory.Iterator(DISPLAY_NAMES)
    role = Role.USER
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def persist_password(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save(update_fields=["password"])


class AdminFactory(UserFactory):
    role = Role.ADMIN
    is_staff = True
    is_superuser = True
