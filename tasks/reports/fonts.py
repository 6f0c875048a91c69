"""Fonts of the PDF report, and user text split into runs each font can draw.

ReportLab embeds TrueType fonts (subset to the glyphs used) but has no font fallback of its
own: a character missing from the font is drawn as an empty box, silently. So each piece of
user text (usernames) is split into runs: the main font (DejaVu Sans, Debian's
`fonts-dejavu-core`: Latin, Greek, Cyrillic, many symbols), else the first fallback font found on
this machine that has the character (CJK or emoji fonts, when installed), else U+FFFD, drawn in
the main font, and the report says so in a note. Without DejaVu the built-in Helvetica serves
(Latin-1 only; other characters become `?`).

ReportLab reads TrueType outlines only, so the fallbacks listed are `.ttf`/`.ttc` files (not
the CFF-based `.otf` of Noto CJK).
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape  # escape() writes markup, it parses no XML  # nosec B406

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

FONT_DIRECTORY = Path("/usr/share/fonts/truetype")
MAIN_FONT = ("AgoraSans", FONT_DIRECTORY / "dejavu/DejaVuSans.ttf")
MAIN_BOLD_FONT = ("AgoraSans-Bold", FONT_DIRECTORY / "dejavu/DejaVuSans-Bold.ttf")
# (registered name, file, index in a collection), tried in this order for what DejaVu lacks.
FALLBACK_FONTS = (
    ("AgoraFallbackDroid", FONT_DIRECTORY / "droid/DroidSansFallbackFull.ttf", 0),  # CJK
    ("AgoraFallbackWqy", FONT_DIRECTORY / "wqy/wqy-zenhei.ttc", 0),  # CJK
    ("AgoraFallbackWqyMicro", FONT_DIRECTORY / "wqy/wqy-microhei.ttc", 0),  # CJK
    ("AgoraFallbackNoto", FONT_DIRECTORY / "noto/NotoSans-Regular.ttf", 0),  # more scripts
    ("AgoraFallbackSymbola", FONT_DIRECTORY / "ancient-scripts/Symbola_hint.ttf", 0),  # emoji
)
REPLACEMENT = "\ufffd"
BUILTIN_REGULAR = "Helvetica"
BUILTIN_BOLD = "Helvetica-Bold"


class _Latin1:
    """Helvetica's coverage, as far as this report relies on it."""

    def __contains__(self, codepoint: object) -> bool:
        return isinstance(codepoint, int) and 0x20 <= codepoint <= 0xFF and codepoint != 0x7F


@dataclass(frozen=True)
class ReportFonts:
    regular: str
    bold: str
    coverage: Container[int]
    # Fonts found for characters `regular` lacks, with what each can draw.
    fallbacks: tuple[tuple[str, Container[int]], ...]
    replacement: str

    @property
    def embedded(self) -> bool:
        return self.regular != BUILTIN_REGULAR


@cache
def report_fonts() -> ReportFonts:
    """The fonts found on this machine, registered with ReportLab once per process."""
    main = _registered(*MAIN_FONT)
    bold = _registered(*MAIN_BOLD_FONT)
    if main is None:
        return ReportFonts(BUILTIN_REGULAR, BUILTIN_BOLD, _Latin1(), (), "?")
    fallbacks = tuple(
        (name, font.face.charToGlyph)
        for name, path, index in FALLBACK_FONTS
        if (font := _registered(name, path, index)) is not None
    )
    return ReportFonts(
        regular=main.fontName,
        bold=bold.fontName if bold is not None else main.fontName,
        coverage=main.face.charToGlyph,
        fallbacks=fallbacks,
        replacement=REPLACEMENT,
    )


def _registered(name: str, path: Path, index: int = 0) -> TTFont | None:
    if name in pdfmetrics.getRegisteredFontNames():
        return pdfmetrics.getFont(name)
    if not path.is_file():
        return None
    try:
        font = TTFont(name, str(path), subfontIndex=index)
    except (TTFError, OSError):  # a file ReportLab cannot read (e.g. CFF outlines)
        return None
    pdfmetrics.registerFont(font)
    return font


def text_runs(text: str, fonts: ReportFonts) -> Iterator[tuple[str | None, str]]:
    """`text` as (font, piece) runs; font None means the main font. Characters no font has
    become `fonts.replacement`; control characters are dropped."""
    current: str | None = None
    piece: list[str] = []
    for character in text:
        codepoint = ord(character)
        if codepoint < 0x20 or 0x7F <= codepoint < 0xA0:
            continue
        font, drawn = _font_for(codepoint, character, fonts)
        if font != current and piece:
            yield current, "".join(piece)
            piece = []
        current = font
        piece.append(drawn)
    if piece:
        yield current, "".join(piece)


def _font_for(codepoint: int, character: str, fonts: ReportFonts) -> tuple[str | None, str]:
    if codepoint in fonts.coverage:
        return None, character
    for name, coverage in fonts.fallbacks:
        if codepoint in coverage:
            return name, character
    return None, fonts.replacement


def markup(text: str, fonts: ReportFonts) -> str:
    """User text as ReportLab paragraph markup: escaped, each run in a font that draws it."""
    return "".join(
        escape(piece) if font is None else f'<font name="{font}">{escape(piece)}</font>'
        for font, piece in text_runs(text, fonts)
    )


def is_degraded(text: str, fonts: ReportFonts) -> bool:
    """Whether some character of `text` has no font here (it is drawn as the replacement)."""
    drawn = "".join(piece for _, piece in text_runs(text, fonts))
    return drawn.count(fonts.replacement) > text.count(fonts.replacement)
