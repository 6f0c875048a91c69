"""Post exports as CSV, JSON or XLSX, written row by row so memory stays flat at any size.

The same writers serve a download (`export_response`) and a background job writing to a file
(`export_write`, with the posts of `export_posts`: the list's filters from a plain mapping, as
the `export` job kind gives them). Rows come from `QuerySet.iterator(chunk_size=...)` as plain
tuples: one fetch and one tags query per chunk, never the whole result in memory.

Format decisions:

- JSON is an array of list-shaped posts, identical to the items of `GET posts` (datetimes as DRF
  renders them, tags sorted by name), streamed element by element.
- CSV is RFC 4180 (CRLF line ends), UTF-8 *without* a byte order mark: a BOM turns the first
  header into "\\ufeffid" for every machine reader that opens the file as plain UTF-8, and
  spreadsheet users are better served by the XLSX export, which carries its encoding.
- XLSX is written by XlsxWriter in `constant_memory` mode (each row is flushed to a temporary
  file as soon as the next one starts; strings are stored inline, so no shared-string table
  grows) and zipped at the end; a download streams the finished file in chunks. Datetimes are
  real spreadsheet dates in UTC, so they sort and filter as dates.
- Text cells that a spreadsheet would run as a formula (starting with = + - @, tab or CR) get a
  leading `'` in CSV and XLSX (CSV injection); JSON carries the text unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any, BinaryIO, NamedTuple
from uuid import UUID

import xlsxwriter
from asgiref.sync import sync_to_async
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header

from config.core.errors import ValidationFailed
from config.core.representations import iso_time
from content.filters import post_filter_names, post_filter_unknown_message, post_filters_apply
from content.models import Post
from content.selectors import post_list

EXPORT_FORMATS = ("csv", "json", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
COLUMNS = (
    "id",
    "title",
    "status",
    "author_username",
    "tags",
    "comment_count",
    "created_at",
    "published_at",
)
TAG_SEPARATOR = ", "  # tag names hold no commas (letters, digits, spaces, - and _)

# Rows per database fetch and per tags query (its ids must fit SQLite's parameter limit).
CHUNK_SIZE = 2000
BODY_CHUNK_SIZE = 200
# Bytes gathered before a piece of the download is handed to the server.
STREAM_PIECE_BYTES = 64 * 1024
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_ROWS = 1_048_576  # per worksheet, header included; more rows continue on a new sheet
# `export_write` tells its `progress` callback the rows written after this many more.
PROGRESS_EVERY_ROWS = 500


def export_response(posts: QuerySet[Post], *, file_format: str) -> StreamingHttpResponse:
    """A download of `posts` (already scoped to the caller and filtered) in `file_format`.

    CSV and JSON are produced while they are sent; XLSX is written to a temporary file first
    (a zip cannot be streamed before it is finished) and then sent in pieces.
    """
    _check_format(file_format)
    if file_format == "xlsx":
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response
        try:
            export_write(posts, file_format="xlsx", destination=spool)
            size = spool.tell()
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        response = ExportResponse(_file_pieces(spool), content_type=CONTENT_TYPES["xlsx"])
        response["Content-Length"] = str(size)
    else:
        pieces = _TEXT_WRITERS[file_format](_rows(posts, with_body=file_format == "json"), _Tally())
        response = ExportResponse(_gathered(pieces), content_type=CONTENT_TYPES[file_format])
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=export_filename(file_format=file_format)
    )
    response["Cache-Control"] = "no-store"
    return response


def export_write(
    posts: QuerySet[Post],
    *,
    file_format: str,
    destination: BinaryIO,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write `posts` to a binary file-like object; returns the number of posts written.

    `destination` is neither closed nor rewound. XLSX needs no seekable destination.
    `progress`, if given, is called with the count of rows written every PROGRESS_EVERY_ROWS
    rows; an exception it raises stops the export there.
    """
    _check_format(file_format)
    tally = _Tally(progress=progress)
    if file_format == "xlsx":
        _xlsx_write(_rows(posts), destination, tally)
    else:
        rows = _rows(posts, with_body=file_format == "json")
        for piece in _gathered(_TEXT_WRITERS[file_format](rows, tally)):
            destination.write(piece)
    return tally.rows


def export_filters_clean(filters: Mapping[str, Any]) -> dict[str, str]:
    """The post list's filters as given in a JSON object, checked as the list checks them and
    kept as the query strings it takes.

    Numbers become their text (`{"min_comments": 3}`); blank values are dropped, as the list
    ignores them. Raises ValidationFailed naming every filter that is unknown, neither text nor
    a number, or a value the list refuses (with the list's own message), all at once.
    """
    known = post_filter_names()
    cleaned: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for name, value in filters.items():
        if name not in known:
            errors[name] = [post_filter_unknown_message()]
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            errors[name] = ["Must be text or a number."]
        elif str(value).strip():
            cleaned[name] = str(value)
    try:
        post_filters_apply(Post.objects.none(), cleaned)
    except ValidationFailed as refused:
        errors.update(refused.details)
    if errors:
        raise ValidationFailed(errors)
    return dict(sorted(cleaned.items()))


def export_posts(*, actor: Any, filters: Mapping[str, Any]) -> QuerySet[Post]:
    """The posts an export with the post list's `filters` holds: what `actor` may read, narrowed
    and ordered as `GET posts` would. Raises ValidationFailed naming each bad filter."""
    return post_filters_apply(post_list(actor=actor), export_filters_clean(filters))


def export_filename(*, file_format: str, now: datetime | None = None) -> str:
    """`posts-20261122T101500Z.csv`: ASCII only, so no RFC 6266 `filename*` is needed."""
    stamp = (now or timezone.now()).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"posts-{stamp}.{file_format}"


def spreadsheet_text(value: str) -> str:
    """`value` made inert for spreadsheets: a leading `'` before formula triggers."""
    return f"'{value}" if value.startswith(FORMULA_TRIGGERS) else value


class ExportResponse(StreamingHttpResponse):
    """A streamed download that stays streamed under ASGI.

    Django's ASGI handler collects a synchronous iterator into one list before sending it
    (the whole export in memory). Here each piece is pulled through `sync_to_async` on the
    request's thread (thread-sensitive, so the database cursor stays on its connection) and sent
    before the next one is made. WSGI servers and the test client iterate synchronously as usual.
    """

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pieces = iter(self.streaming_content)
        next_piece = sync_to_async(next, thread_sensitive=True)
        while (piece := await next_piece(pieces, None)) is not None:
            yield piece


@dataclass
class _Tally:
    rows: int = 0
    progress: Callable[[int], None] | None = None

    def add(self) -> None:
        self.rows += 1
        if self.progress is not None and self.rows % PROGRESS_EVERY_ROWS == 0:
            self.progress(self.rows)


def _check_format(file_format: str) -> None:
    if file_format not in EXPORT_FORMATS:
        raise ValueError(f"Unknown export format {file_format!r}; one of {EXPORT_FORMATS}.")


class _Row(NamedTuple):
    id: UUID
    title: str
    status: str
    author_id: UUID
    author_username: str
    author_display_name: str
    comment_count: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    tags: list[str]
    body: str | None = None


_ROW_FIELDS = (
    "pk",
    "title",
    "status",
    "author_id",
    "author__username",
    "author__display_name",
    "comment_count",
    "created_at",
    "updated_at",
    "published_at",
)


def _rows(posts: QuerySet[Post], *, with_body: bool = False) -> Iterator[_Row]:
    """The exported fields of `posts`, in their order, fetched a chunk at a time.

    Plain tuples instead of model instances (a tenth of the memory and time), and the tags of a
    chunk in one query on the join table (tag names are its keys), as `prefetch_related` would
    do, without a queryset object per post. Only JSON, whose items are the list's items, reads
    the body; its chunks are smaller, since a body may hold 100,000 characters.
    """
    fields = (*_ROW_FIELDS, "body") if with_body else _ROW_FIELDS
    size = BODY_CHUNK_SIZE if with_body else CHUNK_SIZE
    fetched = posts.prefetch_related(None).values_list(*fields).iterator(chunk_size=size)
    while chunk := list(islice(fetched, size)):
        tags: dict[UUID, list[str]] = {}
        links = Post.tags.through.objects.filter(post_id__in=[row[0] for row in chunk])
        for post_id, name in links.values_list("post_id", "tag_id"):
            tags.setdefault(post_id, []).append(name)
        for row in chunk:
            # Sorted by code point, as the API sorts them (a database collation may not).
            yield _Row(
                *row[: len(_ROW_FIELDS)],
                tags=sorted(tags.get(row[0], ())),
                body=row[-1] if with_body else None,
            )


def _list_item(row: _Row) -> dict[str, Any]:
    """A post as an item of `GET posts`."""
    return {
        "id": str(row.id),
        "title": row.title,
        "body": row.body,
        "status": row.status,
        "tags": row.tags,
        "author": {
            "id": str(row.author_id),
            "username": row.author_username,
            "display_name": row.author_display_name,
        },
        "comment_count": row.comment_count,
        "created_at": iso_time(row.created_at),
        "updated_at": iso_time(row.updated_at),
        "published_at": iso_time(row.published_at),
    }


def _csv_pieces(posts: Iterable[_Row], tally: _Tally) -> Iterator[bytes]:
    line = io.StringIO()
    writer = csv.writer(line)

    def encoded(cells: Iterable[Any]) -> bytes:
        line.seek(0)
        line.truncate()
        writer.writerow(cells)
        return line.getvalue().encode()

    yield encoded(COLUMNS)
    for post in posts:
        yield encoded(
            (
                str(post.id),
                spreadsheet_text(post.title),
                post.status,
                spreadsheet_text(post.author_username),
                spreadsheet_text(TAG_SEPARATOR.join(post.tags)),
                post.comment_count,
                iso_time(post.created_at),
                iso_time(post.published_at) or "",
            )
        )
        tally.add()


def _json_pieces(posts: Iterable[_Row], tally: _Tally) -> Iterator[bytes]:
    separator = b"["
    for post in posts:
        yield separator + _json_bytes(_list_item(post))
        separator = b","
        tally.add()
    yield b"[]" if separator == b"[" else b"]"


def _json_bytes(item: dict[str, Any]) -> bytes:
    # DRF's JSONRenderer with our settings: compact, unescaped Unicode, but U+2028/U+2029
    # escaped (they end a line in JavaScript).
    text = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


_TEXT_WRITERS: dict[str, Callable[[Iterable[_Row], _Tally], Iterator[bytes]]] = {
    "csv": _csv_pieces,
    "json": _json_pieces,
}


def _gathered(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """Small pieces joined into ~64 KiB ones: one server write per piece, not one per row."""
    batch: list[bytes] = []
    size = 0
    for piece in pieces:
        batch.append(piece)
        size += len(piece)
        if size >= STREAM_PIECE_BYTES:
            yield b"".join(batch)
            batch, size = [], 0
    if batch:
        yield b"".join(batch)


def _file_pieces(spool: BinaryIO) -> Iterator[bytes]:
    try:
        while piece := spool.read(STREAM_PIECE_BYTES):
            yield piece
    finally:
        spool.close()


def _xlsx_write(posts: Iterable[_Row], destination: BinaryIO, tally: _Tally) -> None:
    workbook = xlsxwriter.Workbook(
        destination,
        {
            "constant_memory": True,
            # Text stays text: no formulas, hyperlinks or numbers made from strings.
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    header = workbook.add_format({"bold": True})
    when = workbook.add_format({"num_format": 'yyyy-mm-dd"T"hh:mm:ss"Z"'})
    widths = {"id": 38, "title": 50, "author_username": 20, "tags": 30}

    def new_sheet(number: int) -> Any:
        sheet = workbook.add_worksheet("posts" if number == 1 else f"posts {number}")
        for column, name in enumerate(COLUMNS):
            width = 22 if name.endswith("_at") else widths.get(name, 12)
            sheet.set_column(column, column, width)
            sheet.write_string(0, column, name, header)
        sheet.freeze_panes(1, 0)
        return sheet

    sheets = 1
    sheet = new_sheet(sheets)
    row = 0
    try:
        for post in posts:
            row += 1
            if row == XLSX_MAX_ROWS:
                sheets += 1
                sheet, row = new_sheet(sheets), 1
            sheet.write_string(row, 0, str(post.id))
            sheet.write_string(row, 1, spreadsheet_text(post.title))
            sheet.write_string(row, 2, post.status)
            sheet.write_string(row, 3, spreadsheet_text(post.author_username))
            sheet.write_string(row, 4, spreadsheet_text(TAG_SEPARATOR.join(post.tags)))
            sheet.write_number(row, 5, post.comment_count)
            sheet.write_datetime(row, 6, _naive_utc(post.created_at), when)
            if post.published_at is not None:
                sheet.write_datetime(row, 7, _naive_utc(post.published_at), when)
            tally.add()
    finally:
        workbook.close()


def _naive_utc(value: datetime) -> datetime:
    """Spreadsheets have no time zones: the UTC wall clock (the header format says `Z`)."""
    return value.astimezone(UTC).replace(tzinfo=None)
