"""Validation of names and passwords: any Unicode letter welcome, control characters never."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

# Letters and digits of any script, combining marks, and a few joiners people use in names.
_USERNAME_RE = re.compile(r"^[\w.@+'\-]+$")
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
# What a pattern can list compactly: controls, and format and private-use characters of the
# Basic Multilingual Plane (surrogates never reach a string decoded from UTF-8).
_PATTERN_CATEGORIES = frozenset({"Cc", "Cf", "Co"})


def has_control_characters(value: str) -> bool:
    """NUL, other C0/C1 controls, bidi overrides and other invisible format characters."""
    return any(unicodedata.category(char) in REFUSED_CATEGORIES for char in value)


@cache
def printable_text_pattern(allowed: str = "") -> str:
    """An ECMA-262 `pattern` for the OpenAPI document: no control, format or private-use
    character of the Basic Multilingual Plane but those in `allowed`.

    The validators refuse more (unassigned code points, and format and private-use characters
    beyond U+FFFF): the API description says so; listing them would take kilobytes per field.
    """
    refused = [
        code
        for code in range(0x10000)
        if unicodedata.category(chr(code)) in _PATTERN_CATEGORIES and chr(code) not in allowed
    ]
    ranges: list[list[int]] = []
    for code in refused:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    spans = "".join(
        f"\\u{low:04x}" if low == high else f"\\u{low:04x}-\\u{high:04x}" for low, high in ranges
    )
    return f"^[^{spans}]*$"


@deconstructible
class PrintableTextValidator:
    """Refuses text PostgreSQL or a terminal would choke on (NUL) or that hides its content."""

    message = "Control characters are not allowed."
    code = "invalid"

    def __init__(self, allowed: str = "\n") -> None:
        self.allowed = allowed

    @property
    def openapi_pattern(self) -> str:
        """The rule as an OpenAPI `pattern` (config.api.openapi reads it)."""
        return printable_text_pattern(self.allowed)

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


def password_length_limits() -> tuple[int, int | None]:
    """The shortest and the longest password AUTH_PASSWORD_VALIDATORS let through."""
    from django.contrib.auth.password_validation import (
        MinimumLengthValidator,
        get_default_password_validators,
    )

    shortest, longest = 0, None
    for validator in get_default_password_validators():
        if isinstance(validator, MinimumLengthValidator):
            shortest = max(shortest, validator.min_length)
        elif isinstance(validator, MaximumLengthValidator):
            longest = (
                validator.max_length if longest is None else min(longest, validator.max_length)
            )
    return shortest, longest
