"""The `export` job at 100 000 posts, per format: time, rows per second, peak memory.

    DATABASE_URL=postgres://…/bench .venv/bin/python -m tests.perf.jobs_export \
        [--rows 100000] [--formats csv json xlsx] [--tracemalloc]

Seeds the posts once with bulk inserts (tests.perf.export_memory's data: 2 kB bodies, three
tags each, one author) into DATABASE_URL, a PostgreSQL database of its own (it refuses to run
without one). Then, for each format, a fresh child process accepts an export job through the
service (`job_create`, as `POST jobs` does) and runs it through the runner (`job_run`, as a
worker does): the owner's visibility, the filters, progress reports, the spool file and the
storage all take part. It prints the job's wall time, rows per second, the file size, the
process's peak resident memory (ru_maxrss) and how much the job added to it (over the RSS after
a warm-up job of no rows, which loads the code and the connection), and with
`--tracemalloc` the peak of Python allocations during the job (slower).

Result files go to a temporary MEDIA_ROOT, deleted afterwards. With REDIS_URL set, the job's
broker message is published too; a worker that takes it later finds the job already done.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[2]
FORMATS = ("csv", "json", "xlsx")
OWNER = "bench_exporter"


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("VmRSS")


def measure_one(file_format: str, *, rows: int, traced: bool) -> dict[str, Any]:
    import tracemalloc

    from django.conf import settings

    from accounts.models import User
    from tasks.models import Job
    from tasks.results import result_storage
    from tasks.runner import job_run
    from tasks.services import job_create

    # Each run is a new job, not the identical one that succeeded minutes ago.
    settings.JOB_DEDUPE_SECONDS = 0
    owner, _ = User.objects.get_or_create(
        username=OWNER, defaults={"email": "bench_exporter@example.org"}
    )
    Job.objects.filter(owner=owner).delete()
    # A job of no rows first: imports, the connection and the caches the real one would load
    # are not counted as its growth.
    warm_up = job_create(
        actor=owner,
        kind="export",
        params={"file_format": file_format, "filters": {"tag": "no-such-tag"}},
    )
    job_run(job_id=str(warm_up.pk), worker="bench")
    before = rss_kib()
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    job = job_create(actor=owner, kind="export", params={"file_format": file_format})
    outcome = job_run(job_id=str(job.pk), worker="bench")
    seconds = time.perf_counter() - started
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    job.refresh_from_db()
    size = result_storage().size(job.result_file) if job.result_file else 0
    return {
        "format": file_format,
        "outcome": outcome,
        "rows": (job.result or {}).get("rows", 0),
        "seconds": seconds,
        "rows_per_second": (job.result or {}).get("rows", 0) / seconds,
        "mib_out": size / 2**20,
        "peak_rss_mib": peak / 1024,
        "rss_growth_mib": (peak - before) / 1024,
        "tracemalloc_peak_mib": traced_peak,
        "expected_rows": rows,
    }


def print_row(result: dict[str, Any]) -> None:
    traced = result["tracemalloc_peak_mib"]
    print(
        f"{result['format']:5} {result['outcome']:9} {result['rows']:>8} rows "
        f"{result['seconds']:7.1f} s {result['rows_per_second']:>9,.0f} rows/s "
        f"{result['mib_out']:7.1f} MiB out  peak RSS {result['peak_rss_mib']:6.1f} MiB "
        f"(+{result['rss_growth_mib']:5.1f} during the job)  tracemalloc peak "
        + (f"{traced:6.1f} MiB" if traced is not None else "-"),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--one", choices=FORMATS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        setup_django()
        result = measure_one(args.one, rows=args.rows, traced=args.tracemalloc)
        print(json.dumps(result))
        return
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Give it a PostgreSQL database of its own: DATABASE_URL=postgres://…/bench")
    setup_django()
    from django.db import connection

    from tests.perf.export_memory import seed

    started = time.perf_counter()
    seed(args.rows)
    print(
        f"{connection.vendor}, {args.rows} posts (seeded or found in "
        f"{time.perf_counter() - started:.1f} s)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="jobs-export-") as media_root:
        for file_format in args.formats:
            command = [sys.executable, "-m", "tests.perf.jobs_export", "--one", file_format]
            command += ["--rows", str(args.rows)]
            command += ["--tracemalloc"] if args.tracemalloc else []
            child = subprocess.run(
                command,
                cwd=BASE_DIR,
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "MEDIA_ROOT": media_root},
            )
            print_row(json.loads(child.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
