"""Validation of names and passwords: any Unicode letter welcome, control characters never."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

# Letters and digits of any script, combining marks, and a few joiners people use in names.
_USERNAME_RE = re.compile(r"^[\w.@+'\-]+$")


def has_control_characters(value: str) -> bool:
    """NUL, other C0/C1 controls, bidi overrides and other invisible format characters."""
    return any(unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn"} for char in value)


@deconstructible
class PrintableTextValidator:
    """Refuses text PostgreSQL or a terminal would choke on (NUL) or that hides its content."""

    message = "Control characters are not allowed."
    code = "invalid"

    def __init__(self, allowed: str = "\n") -> None:
        self.allowed = allowed

    def __call__(self, value: Any) -> None:
        if not isinstance(value, str):
            return
        if has_control_characters(value.translate(dict.fromkeys(map(ord, self.allowed)))):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrintableTextValidator) and other.allowed == self.allowed


@deconstructible
class UsernameValidator:
    """Unicode letters and digits plus `. @ + - _ '` ("O'Brien", "Müller", "李雷")."""

    message = "Use letters, digits and . @ + - _ ' only."
    code = "invalid"

    def __call__(self, value: Any) -> None:
        text = str(value)
        if has_control_characters(text) or not _USERNAME_RE.fullmatch(text):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UsernameValidator)


class MaximumLengthValidator:
    """Caps password length so hashing stays cheap; the contract asks for at least 64."""

    def __init__(self, max_length: int = 1024) -> None:
        self.max_length = max_length

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                f"This password is longer than {self.max_length} characters.",
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return f"Your password can be up to {self.max_length} characters."
