"""The OpenAPI pattern of the printable-text rule says what the validator does."""

from __future__ import annotations

import re
import unicodedata

import pytest
from django.core.exceptions import ValidationError

from accounts.validators import PrintableTextValidator

# Surrogates never reach a decoded string; unassigned code points are left to the description.
OUTSIDE_THE_PATTERN = {"Cs", "Cn"}


def _accepts(validator: PrintableTextValidator, text: str) -> bool:
    try:
        validator(text)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("allowed", ["", "\n", "\n\r\t"])
def test_the_pattern_agrees_with_the_validator_on_every_assigned_bmp_character(
    allowed: str,
) -> None:
    validator = PrintableTextValidator(allowed=allowed)
    pattern = re.compile(validator.openapi_pattern)

    disagreements = [
        hex(code)
        for code in range(0x10000)
        if unicodedata.category(chr(code)) not in OUTSIDE_THE_PATTERN
        and bool(pattern.fullmatch(chr(code))) != _accepts(validator, chr(code))
    ]

    assert disagreements == []


def test_the_pattern_takes_text_of_any_script() -> None:
    pattern = re.compile(PrintableTextValidator(allowed="\n").openapi_pattern)

    assert pattern.fullmatch("Siobhán O'Brien\n李雷 — Grüße 🚀")
    assert not pattern.fullmatch("bidi \u202e override")
