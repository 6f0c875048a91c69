"""Memory and time of the post export at 100 000 rows, per format.

    .venv/bin/python -m tests.perf.export_memory [--rows 100000] [--tracemalloc]

Seeds the rows once (2 kB bodies the export must not read, three tags each) into
DATABASE_URL, or into var/export_memory.sqlite3 when it is unset, then exports each format in a
fresh child process to a file in a temporary directory, and prints the time, the output size,
the process's resident memory growth (peak RSS minus RSS before the export) and, with
`--tracemalloc`, the peak of Python allocations (slower). `naive` is the comparison: the same
queryset held in a list, as `list(queryset)` or a non-streaming response would.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
FORMATS = ("csv", "json", "xlsx", "naive")
TAGS = ("python", "django", "köln")


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'export_memory.sqlite3'}")
    import django

    django.setup()


def seed(rows: int) -> None:
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import User
    from content.models import Post, PostStatus, Tag

    call_command("migrate", verbosity=0)
    present = Post.objects.count()
    if present >= rows:
        return
    author, _ = User.objects.get_or_create(
        username="export_müller", defaults={"email": "export@example.org"}
    )
    Tag.objects.bulk_create([Tag(name=name) for name in TAGS], ignore_conflicts=True)
    now = timezone.now()
    links = Post.tags.through
    for start in range(present, rows, 5000):
        posts = Post.objects.bulk_create(
            Post(
                author=author,
                title=f"Café O'Brien — 李雷's notes 🚀 #{number}",
                body="x" * 2000,
                status=PostStatus.PUBLISHED,
                published_at=now,
            )
            for number in range(start, min(start + 5000, rows))
        )
        links.objects.bulk_create(
            [links(post_id=post.pk, tag_id=name) for post in posts for name in TAGS]
        )


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(field)


def measure_one(file_format: str, *, traced: bool) -> None:
    import tracemalloc

    from content.exports import export_write
    from content.models import Post

    posts = Post.objects.select_related("author").prefetch_related("tags")
    before = rss_kib("VmRSS")
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    with tempfile.TemporaryFile() as destination:
        if file_format == "naive":
            rows = len(list(posts))
        else:
            rows = export_write(posts, file_format=file_format, destination=destination)
        size = destination.tell()
    seconds = time.perf_counter() - started
    peak = f"{tracemalloc.get_traced_memory()[1] / 2**20:8.1f} MiB" if traced else "-"
    grown = (rss_kib("VmHWM") - before) / 1024
    print(
        f"{file_format:6} {rows:>8} rows {seconds:7.1f} s {size / 2**20:8.1f} MiB out "
        f"RSS +{grown:7.1f} MiB  tracemalloc peak {peak}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--one", choices=FORMATS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    setup_django()
    if args.one:
        measure_one(args.one, traced=args.tracemalloc)
        return
    seed(args.rows)
    from django.db import connection

    print(f"{connection.vendor}, {args.rows} posts")
    for file_format in FORMATS:
        command = [sys.executable, "-m", "tests.perf.export_memory", "--one", file_format]
        subprocess.run(
            [*command, *(["--tracemalloc"] if args.tracemalloc else [])],
            cwd=BASE_DIR,
            check=True,
        )


if __name__ == "__main__":
    main()
