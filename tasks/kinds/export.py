"""`export`: the post list, with its filters and `ordering`, as a CSV, JSON or XLSX file.

The rows are what the job's owner may read when it runs (their drafts, everyone's published
and archived posts; all for admins), filtered and ordered as `GET posts?<filters>` would list
them. The writers are content's streamed exports (content.exports): rows are fetched a chunk
at a time and written to a temporary spool file, then stored as the job's result file, so
memory stays flat at any size. Progress follows the rows written; a cancel stops the export at
the next progress report. A rerun (after a lost worker) starts over and replaces the file.
"""

from __future__ import annotations

import tempfile
from typing import Any

from config.core.errors import ValidationFailed
from tasks.kinds import JobFailed, JobKind
from tasks.runner import JobContext

PARAMS = ("file_format", "filters")
FORMATS = ("csv", "json", "xlsx")
DEFAULT_FORMAT = "csv"
# Shown while rows are written; 100 only once the file is stored.
WRITING_PROGRESS_MAX = 99


def clean(params: dict[str, Any], actor: Any) -> dict[str, Any]:
    from content.exports import export_filters_clean

    errors: dict[str, Any] = {
        name: ["Unknown parameter."] for name in sorted(set(params) - set(PARAMS))
    }
    file_format = params.get("file_format", DEFAULT_FORMAT)
    if file_format not in FORMATS:
        errors["file_format"] = [f"One of: {', '.join(FORMATS)}."]
    filters = params.get("filters", {})
    cleaned_filters: dict[str, str] = {}
    if not isinstance(filters, dict):
        errors["filters"] = ["A JSON object of the post list's filters."]
    else:
        try:
            cleaned_filters = export_filters_clean(filters)
        except ValidationFailed as error:
            errors["filters"] = error.details
    if errors:
        raise ValidationFailed(errors)
    return {"file_format": file_format, "filters": cleaned_filters}


def run(context: JobContext) -> dict[str, Any]:
    from content.exports import export_filename, export_posts, export_write

    file_format = context.params["file_format"]
    try:
        posts = export_posts(actor=context.owner, filters=context.params["filters"])
    except ValidationFailed as error:
        raise JobFailed(f"The filters are no longer valid: {error}") from error
    context.check_cancelled()
    total = posts.count()

    def progress(rows: int) -> None:
        context.progress(min(WRITING_PROGRESS_MAX, 100 * rows / total) if total else 0)

    with tempfile.TemporaryFile() as spool:
        rows = export_write(posts, file_format=file_format, destination=spool, progress=progress)
        size = spool.tell()
        spool.seek(0)
        context.save_result_file(export_filename(file_format=file_format), spool)
    return {"rows": rows, "file_format": file_format, "bytes": size}


KIND = JobKind(
    name="export", clean=clean, run=run, retries=3, retry_base_seconds=10.0, concurrency=4
)
