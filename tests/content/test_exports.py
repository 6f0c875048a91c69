"""The export writer: CSV, JSON and XLSX, streamed, injection-safe, with flat memory."""

from __future__ import annotations

import csv
import io
import json
import re
import tracemalloc
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import pytest
from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator
from django.db.models import F, QuerySet
from django.utils import timezone
from rest_framework import serializers

from config.asgi import application
from config.core.representations import iso_time
from content.exports import (
    COLUMNS,
    CONTENT_TYPES,
    EXPORT_FORMATS,
    ExportResponse,
    export_filename,
    export_response,
    export_write,
)
from content.models import Post, PostStatus
from content.representations import post_representation
from tests.content.factories import PostFactory
from tests.factories import UserFactory, bearer

pytestmark = pytest.mark.django_db

SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
# Control characters in OOXML text are written as _xHHHH_; spreadsheets decode them.
OOXML_ESCAPE = re.compile(r"_x([0-9A-F]{4})_")
DANGEROUS = ("=1+1", "+1", "-1", "@SUM(A1)", "\tTab", "\rCR")


def exported_posts() -> QuerySet[Post]:
    """What the view hands over: scoped, filtered, author selected and tags prefetched."""
    return Post.objects.select_related("author").prefetch_related("tags").order_by("created_at")


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def xlsx_rows(data: bytes, sheet: int = 1) -> list[list[Any]]:
    """The cells of one worksheet: inline strings as text, numbers as floats, gaps as None."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read(f"xl/worksheets/sheet{sheet}.xml")
    root = ElementTree.fromstring(xml)  # noqa: S314 - our own output, not untrusted input
    rows: list[list[Any]] = []
    for row in root.iter(f"{SHEET}row"):
        cells: list[Any] = [None] * len(COLUMNS)
        for cell in row.iter(f"{SHEET}c"):
            column = ord(re.match(r"[A-Z]", cell.attrib["r"]).group()) - ord("A")
            if cell.attrib.get("t") == "inlineStr":
                text = "".join(t.text or "" for t in cell.iter(f"{SHEET}t"))
                cells[column] = OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
            elif (value := cell.find(f"{SHEET}v")) is not None:
                cells[column] = float(value.text)
        rows.append(cells)
    return rows


def test_every_format_is_listed() -> None:
    assert EXPORT_FORMATS == ("csv", "json", "xlsx")


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown export format"):
        export_response(exported_posts(), file_format="xml")


@pytest.mark.parametrize("file_format", EXPORT_FORMATS)
def test_the_download_is_an_attachment_with_a_timestamped_ascii_name(file_format: str) -> None:
    response = export_response(exported_posts(), file_format=file_format)

    assert response["Content-Type"] == CONTENT_TYPES[file_format]
    assert re.fullmatch(
        rf'attachment; filename="posts-\d{{8}}T\d{{6}}Z\.{file_format}"',
        response["Content-Disposition"],
    )
    assert response["Cache-Control"] == "no-store"
    body_of(response)


def test_the_file_name_is_the_utc_time_of_the_export() -> None:
    moment = datetime(2026, 11, 22, 11, 15, 0, tzinfo=timezone.get_fixed_timezone(60))

    assert export_filename(file_format="csv", now=moment) == "posts-20261122T101500Z.csv"


@pytest.mark.parametrize("file_format", ["csv", "json"])
def test_text_formats_are_streamed(file_format: str) -> None:
    PostFactory()

    response = export_response(exported_posts(), file_format=file_format)

    assert response.streaming
    assert not response.has_header("Content-Length")


def test_csv_has_the_contract_columns_and_one_row_per_post() -> None:
    post = PostFactory(tags=["zebra", "Äpfel", "python"])
    draft = PostFactory(status=PostStatus.DRAFT, author=post.author)

    rows = csv_rows(body_of(export_response(exported_posts(), file_format="csv")))

    assert rows == [
        list(COLUMNS),
        [
            str(post.pk),
            post.title,
            "published",
            post.author.username,
            "python, zebra, äpfel",
            "0",
            iso_time(post.created_at),
            iso_time(post.published_at),
        ],
        [
            str(draft.pk),
            draft.title,
            "draft",
            draft.author.username,
            "",
            "0",
            iso_time(draft.created_at),
            "",
        ],
    ]


def test_csv_is_utf8_without_a_byte_order_mark() -> None:
    PostFactory(title="Café O'Brien — 李雷's notes 🚀")

    data = body_of(export_response(exported_posts(), file_format="csv"))

    assert data.startswith(b"id,title,")
    assert "Café O'Brien — 李雷's notes 🚀".encode() in data


def test_csv_quotes_commas_quotes_and_line_breaks() -> None:
    post = PostFactory(title='Say "hi", then leave')

    rows = csv_rows(body_of(export_response(exported_posts(), file_format="csv")))

    assert rows[1][1] == post.title


@pytest.mark.parametrize("text", DANGEROUS)
def test_csv_defuses_formula_titles(text: str) -> None:
    Post.objects.filter(pk=PostFactory().pk).update(title=text)

    rows = csv_rows(body_of(export_response(exported_posts(), file_format="csv")))

    assert rows[1][1] == f"'{text}"


def test_csv_defuses_formula_usernames_and_tags() -> None:
    PostFactory(author=UserFactory(username="-cmd"), tags=["-x"])

    rows = csv_rows(body_of(export_response(exported_posts(), file_format="csv")))

    assert (rows[1][3], rows[1][4]) == ("'-cmd", "'-x")


def test_csv_leaves_harmless_text_alone() -> None:
    PostFactory(title="a=1 + b-2 @home")

    rows = csv_rows(body_of(export_response(exported_posts(), file_format="csv")))

    assert rows[1][1] == "a=1 + b-2 @home"


def test_json_items_are_list_shaped_posts() -> None:
    post = PostFactory(tags=["köln", "travel"])

    items = json.loads(body_of(export_response(exported_posts(), file_format="json")))

    listed = Post.objects.select_related("author").prefetch_related("tags").get(pk=post.pk)
    expected = post_representation(listed)
    del expected["attachments"]  # exports leave attachments out
    assert items == [expected]


def test_json_times_are_rendered_as_drf_renders_them() -> None:
    field = serializers.DateTimeField()
    with_micros = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)
    whole_second = datetime(2026, 11, 22, 10, 0, 0, tzinfo=timezone.get_fixed_timezone(120))

    assert iso_time(with_micros) == field.to_representation(with_micros)
    assert iso_time(with_micros) == "2026-11-22T10:00:00.123456Z"
    assert iso_time(whole_second) == field.to_representation(whole_second)


def test_json_keeps_text_as_is_and_unicode_unescaped() -> None:
    PostFactory(title="=SUM(A1) Café 李雷 🚀")

    data = body_of(export_response(exported_posts(), file_format="json"))

    assert "=SUM(A1) Café 李雷 🚀".encode() in data


def test_json_escapes_javascript_line_separators_like_drf() -> None:
    PostFactory(title="one\u2028two")

    data = body_of(export_response(exported_posts(), file_format="json"))

    assert b"one\\u2028two" in data
    assert json.loads(data)[0]["title"] == "one\u2028two"


def test_json_of_nothing_is_an_empty_array() -> None:
    assert body_of(export_response(exported_posts(), file_format="json")) == b"[]"


def test_json_of_many_posts_is_one_valid_array() -> None:
    posts = PostFactory.create_batch(3)

    items = json.loads(body_of(export_response(exported_posts(), file_format="json")))

    assert [item["id"] for item in items] == [str(post.pk) for post in posts]


def test_xlsx_has_the_contract_columns_and_typed_cells() -> None:
    post = PostFactory(tags=["b", "a"], comment_count=7)

    rows = xlsx_rows(body_of(export_response(exported_posts(), file_format="xlsx")))

    created = post.created_at.astimezone(UTC).replace(tzinfo=None)
    excel_epoch = datetime(1899, 12, 30)  # spreadsheet serial dates are naive
    assert rows[0] == list(COLUMNS)
    assert rows[1][:6] == [str(post.pk), post.title, "published", post.author.username, "a, b", 7]
    assert rows[1][6] == pytest.approx((created - excel_epoch).total_seconds() / 86400)
    assert isinstance(rows[1][7], float)


def test_xlsx_leaves_unpublished_dates_empty() -> None:
    PostFactory(status=PostStatus.DRAFT)

    rows = xlsx_rows(body_of(export_response(exported_posts(), file_format="xlsx")))

    assert rows[1][7] is None


@pytest.mark.parametrize("text", DANGEROUS)
def test_xlsx_defuses_formula_titles(text: str) -> None:
    Post.objects.filter(pk=PostFactory().pk).update(title=text)

    rows = xlsx_rows(body_of(export_response(exported_posts(), file_format="xlsx")))

    assert rows[1][1] == f"'{text}"


def test_xlsx_writes_no_formulas_or_links() -> None:
    Post.objects.filter(pk=PostFactory().pk).update(title='=HYPERLINK("https://evil.test")')
    PostFactory(title="https://example.org/page")

    data = body_of(export_response(exported_posts(), file_format="xlsx"))

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
        names = archive.namelist()
    assert b"<f>" not in sheet
    assert b"<hyperlinks" not in sheet
    assert not any("sharedStrings" in name for name in names)


def test_xlsx_download_announces_its_length() -> None:
    PostFactory()

    response = export_response(exported_posts(), file_format="xlsx")

    assert int(response["Content-Length"]) == len(body_of(response))


def test_xlsx_continues_on_a_new_sheet_when_one_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("content.exports.XLSX_MAX_ROWS", 3)
    posts = PostFactory.create_batch(5)

    data = body_of(export_response(exported_posts(), file_format="xlsx"))

    first, second, third = (xlsx_rows(data, sheet) for sheet in (1, 2, 3))
    assert [row[0] for row in first] == ["id", str(posts[0].pk), str(posts[1].pk)]
    assert [row[0] for row in second] == ["id", str(posts[2].pk), str(posts[3].pk)]
    assert [row[0] for row in third] == ["id", str(posts[4].pk)]


@pytest.mark.parametrize("file_format", EXPORT_FORMATS)
def test_export_write_fills_a_file_and_counts_the_posts(file_format: str) -> None:
    PostFactory.create_batch(3, tags=["x"])
    destination = io.BytesIO()

    written = export_write(exported_posts(), file_format=file_format, destination=destination)

    assert written == 3
    streamed = body_of(export_response(exported_posts(), file_format=file_format))
    assert len(destination.getvalue()) == pytest.approx(len(streamed), rel=0.01)


@pytest.mark.parametrize("file_format", EXPORT_FORMATS)
def test_export_write_of_nothing_counts_zero(file_format: str) -> None:
    assert export_write(exported_posts(), file_format=file_format, destination=io.BytesIO()) == 0


def test_the_export_uses_the_order_and_filter_it_is_given() -> None:
    older, newer = PostFactory(title="older"), PostFactory(title="newer")
    PostFactory(title="not me", status=PostStatus.DRAFT)
    posts = exported_posts().filter(status=PostStatus.PUBLISHED).order_by("-created_at")

    items = json.loads(body_of(export_response(posts, file_format="json")))

    assert [item["id"] for item in items] == [str(newer.pk), str(older.pk)]


def test_an_order_by_an_annotation_is_kept() -> None:
    """As the ranked full-text search orders by its `search_rank` annotation."""
    quiet, busy = PostFactory(comment_count=1), PostFactory(comment_count=5)
    posts = exported_posts().annotate(score=F("comment_count") * 2).order_by("-score")

    items = json.loads(body_of(export_response(posts, file_format="json")))

    assert [item["id"] for item in items] == [str(busy.pk), str(quiet.pk)]


def test_a_queryset_limited_to_some_fields_exports_the_same() -> None:
    post = PostFactory(tags=["x"])
    limited = exported_posts().only("id", "title", "author__username")

    items = json.loads(body_of(export_response(limited, file_format="json")))

    assert items[0]["tags"] == ["x"]
    assert items[0]["author"]["display_name"] == post.author.display_name


@pytest.mark.parametrize("file_format", EXPORT_FORMATS)
@pytest.mark.parametrize("count", [3, 30])
def test_queries_do_not_grow_with_rows(
    file_format: str, count: int, django_assert_num_queries: Any
) -> None:
    for post in PostFactory.create_batch(count, tags=["a", "b"]):
        post.author  # noqa: B018 - the factories' own queries stay outside the count

    with django_assert_num_queries(2):  # posts with authors, then their tags
        body_of(export_response(exported_posts(), file_format=file_format))


def test_a_chunked_fetch_prefetches_tags_per_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("content.exports.CHUNK_SIZE", 2)
    PostFactory.create_batch(5, tags=["t"])

    items = json.loads(body_of(export_response(exported_posts(), file_format="json")))

    assert [item["tags"] for item in items] == [["t"]] * 5


async def test_under_asgi_pieces_are_made_one_at_a_time() -> None:
    made: list[int] = []

    def pieces() -> Iterator[bytes]:
        for number in range(3):
            made.append(number)
            yield b"x" * 10

    response = ExportResponse(pieces())
    stream = response.__aiter__()

    first = await stream.__anext__()

    assert (first, made) == (b"x" * 10, [0])
    assert [piece async for piece in stream] == [b"x" * 10, b"x" * 10]


def member_with_posts(count: int) -> str:
    author = UserFactory()
    PostFactory.create_batch(count, author=author, tags=["köln"])
    return bearer(author)


@pytest.mark.django_db(transaction=True)
async def test_the_asgi_server_streams_the_download_piece_by_piece(
    monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder
) -> None:
    """Through the real ASGI stack and view: no fallback that collects the whole export first
    (Django warns when it has to), and the database is read on the request's own thread."""
    monkeypatch.setattr("content.exports.STREAM_PIECE_BYTES", 300)
    authorization = await database_sync_to_async(member_with_posts)(6)
    communicator = HttpCommunicator(
        application,
        "GET",
        "/api/v1/posts/export?file_format=csv",
        headers=[(b"host", b"localhost"), (b"authorization", authorization.encode())],
    )
    await communicator.send_input({"type": "http.request", "body": b""})

    start = await communicator.receive_output(10)
    pieces = [await communicator.receive_output(10)]
    while pieces[-1].get("more_body"):
        pieces.append(await communicator.receive_output(10))
    await communicator.wait(10)  # the request finishes: its database connection goes back

    parts = [piece.get("body", b"") for piece in pieces]
    assert start["status"] == 200
    assert len(csv_rows(b"".join(parts))) == 7
    assert len([part for part in parts if part]) > 2
    assert not [w for w in recwarn if "consume synchronous iterators" in str(w.message)]


def bulk_posts(count: int) -> None:
    author = UserFactory()
    now = timezone.now()
    Post.objects.bulk_create(
        Post(
            author=author,
            title=f"Café O'Brien — 李雷's notes 🚀 #{number}",
            body="x" * 2000,
            status=PostStatus.PUBLISHED,
            published_at=now,
        )
        for number in range(count)
    )


@pytest.mark.parametrize("file_format", EXPORT_FORMATS)
def test_memory_stays_flat_for_many_rows(file_format: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """6 000 rows in chunks of 500 peak far below what holding them would take (the rows with
    their 2 kB bodies, which the export must not even read). Measured numbers for 100 000 rows:
    tests/perf/export_memory.py."""
    monkeypatch.setattr("content.exports.CHUNK_SIZE", 500)
    bulk_posts(6_000)

    tracemalloc.start()
    try:
        export_write(exported_posts(), file_format=file_format, destination=_Sink())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 3 * 1024 * 1024


class _Sink(io.RawIOBase):
    """A destination that keeps nothing, so only the writer's own memory is measured."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


@pytest.mark.django_db
@pytest.mark.parametrize("file_format", EXPORT_FORMATS)
def test_a_download_asked_for_by_its_own_media_type_is_served(file_format: str) -> None:
    """`Accept: text/csv` (the type the OpenAPI document names) was a 406: no renderer is
    called `text/csv`, the view streams the file itself."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=member_with_posts(1))
    media_type = CONTENT_TYPES[file_format].split(";")[0]

    response = client.get(
        "/api/v1/posts/export", {"file_format": file_format}, HTTP_ACCEPT=media_type
    )

    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPES[file_format]
