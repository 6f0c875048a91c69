"""Reading the files jobs produce, with the standard library only (no openpyxl or pypdf here).

XLSX: a worksheet's cells from its XML (inline or shared strings, numbers). PDF: the page
count, the embedded fonts, the decoded streams, and the characters the embedded fonts' ToUnicode
maps say were drawn (ReportLab subsets fonts, so text in content streams is glyph codes).
"""

from __future__ import annotations

import base64
import io
import re
import zipfile
import zlib
from typing import Any
from xml.etree import ElementTree

SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
OOXML_ESCAPE = re.compile(r"_x([0-9A-F]{4})_")


def xlsx_sheet_names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = ElementTree.fromstring(archive.read("xl/workbook.xml"))  # noqa: S314 - ours
    return [sheet.attrib["name"] for sheet in root.iter(f"{SHEET}sheet")]


def xlsx_rows(data: bytes, sheet: int = 1) -> list[list[Any]]:
    """Rows of cells of one worksheet (1-based): text as str, numbers as float, gaps None."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        shared: list[str] = []
        if "xl/sharedStrings.xml" in names:
            strings = ElementTree.fromstring(archive.read("xl/sharedStrings.xml"))  # noqa: S314
            shared = ["".join(t.text or "" for t in item.iter(f"{SHEET}t")) for item in strings]
        root = ElementTree.fromstring(archive.read(f"xl/worksheets/sheet{sheet}.xml"))  # noqa: S314
    rows: list[list[Any]] = []
    for row in root.iter(f"{SHEET}row"):
        cells: dict[int, Any] = {}
        for cell in row.iter(f"{SHEET}c"):
            column = ord(re.match(r"[A-Z]", cell.attrib["r"]).group()) - ord("A")
            kind = cell.attrib.get("t")
            value = cell.find(f"{SHEET}v")
            if kind == "inlineStr":
                text = "".join(t.text or "" for t in cell.iter(f"{SHEET}t"))
                cells[column] = OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
            elif kind == "s" and value is not None:
                cells[column] = shared[int(value.text)]
            elif value is not None:
                cells[column] = float(value.text)
        width = max(cells, default=-1) + 1
        rows.append([cells.get(column) for column in range(width)])
    return rows


def xlsx_part(data: bytes, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name).decode()


def pdf_page_count(data: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", data))


def pdf_fonts(data: bytes) -> list[str]:
    """Base font names: `AAAAAA+DejaVuSans` for an embedded subset, `Helvetica` for a built-in."""
    return sorted({name.decode() for name in re.findall(rb"/BaseFont /([\w+-]+)", data)})


def pdf_streams(data: bytes) -> list[bytes]:
    """Every stream, decoded (ReportLab uses ASCII85 and Flate)."""
    streams = []
    for match in re.finditer(rb"(?<!end)stream\r?\n", data):
        head = data[max(0, match.start() - 400) : match.start()]
        head = head[head.rfind(b"obj") :]
        length = int(re.search(rb"/Length (\d+)", head).group(1))
        raw = data[match.end() : match.end() + length]
        for name in re.findall(rb"/(ASCII85Decode|FlateDecode)", head):
            if name == b"ASCII85Decode":
                raw = base64.a85decode(raw.strip().removesuffix(b"~>"))
            else:
                raw = zlib.decompress(raw)
        streams.append(raw)
    return streams


def pdf_drawn_characters(data: bytes) -> set[str]:
    """Characters the embedded fonts' ToUnicode maps hold: those drawn with embedded fonts."""
    drawn: set[str] = set()
    for stream in pdf_streams(data):
        for section in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.S):
            for code in re.findall(rb"<[0-9A-Fa-f]+>\s*<([0-9A-Fa-f]{4})>", section):
                drawn.add(chr(int(code, 16)))
    drawn.discard("\x00")
    return drawn


def pdf_text(data: bytes) -> bytes:
    """The content streams' literal strings joined: ASCII text drawn in the first subset (or a
    built-in font) shows up here as is."""
    pieces = []
    for stream in pdf_streams(data):
        pieces += re.findall(rb"\(((?:[^()\\]|\\.)*)\) Tj", stream)
    return b"\n".join(pieces)
