"""`report`: publishing statistics of the last `days` days as a PDF or XLSX file.

The figures are those of `GET posts/stats` (content.selectors.stats: published posts only, the
same for every caller), with the top authors; rendering is tasks.reports. The file is written
to a temporary spool, then stored as the job's result file.
"""

from __future__ import annotations

import tempfile
from datetime import UTC
from typing import Any

from django.utils import timezone

from config.core.errors import ValidationFailed
from tasks.kinds import JobKind
from tasks.reports import REPORT_FORMATS, report_figures, report_write
from tasks.runner import JobContext

PARAMS = ("file_format", "days")
DEFAULT_FORMAT = "pdf"
DEFAULT_DAYS = 30
TOP_AUTHORS = 10


def clean(params: dict[str, Any], actor: Any) -> dict[str, Any]:
    from content.selectors.stats import DAYS_MAX

    errors: dict[str, list[str]] = {
        name: ["Unknown parameter."] for name in sorted(set(params) - set(PARAMS))
    }
    file_format = params.get("file_format", DEFAULT_FORMAT)
    if file_format not in REPORT_FORMATS:
        errors["file_format"] = [f"One of: {', '.join(REPORT_FORMATS)}."]
    days = params.get("days", DEFAULT_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= DAYS_MAX:
        errors["days"] = [f"A whole number from 1 to {DAYS_MAX}."]
    if errors:
        raise ValidationFailed(errors)
    return {"file_format": file_format, "days": days}


def run(context: JobContext) -> dict[str, Any]:
    from content.selectors.stats import post_stats

    file_format, days = context.params["file_format"], context.params["days"]
    generated_at = timezone.now()
    figures = report_figures(
        post_stats(days=days, top=TOP_AUTHORS), days=days, generated_at=generated_at
    )
    context.progress(50)
    stamp = generated_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    with tempfile.TemporaryFile() as spool:
        report_write(figures, file_format=file_format, destination=spool)
        context.check_cancelled()
        spool.seek(0)
        context.save_result_file(f"report-{days}d-{stamp}.{file_format}", spool)
    return {
        "file_format": file_format,
        "days": days,
        "posts": figures.posts,
        "comments": figures.comments,
    }


KIND = JobKind(
    name="report", clean=clean, run=run, retries=3, retry_base_seconds=10.0, concurrency=2
)
