"""The stats report of the `report` job kind, as PDF (ReportLab) or XLSX (XlsxWriter).

Both render the same figures of `post_stats` (content.selectors.stats): published posts per
day as a chart (a vector bar chart in the PDF, a native column chart in the workbook, so it stays
editable), the top authors, and comment totals.

Why these libraries:
- ReportLab (BSD, maintained since 2000, wheels with no system libraries) draws charts itself
  (`reportlab.graphics.charts`, vector, no matplotlib), lays out tables and paragraphs, and
  embeds TrueType fonts subset to the glyphs used. fpdf2 (LGPL) has font fallback built in but no
  charts (a chart would mean matplotlib or drawing one by hand); WeasyPrint needs Pango and
  friends from the system; borb is AGPL. ReportLab's missing font fallback is a small function
  here (tasks.reports.fonts).
- XlsxWriter is already the exports' writer; its charts are native Excel charts, which
  LibreOffice and Google Sheets read too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from content.selectors.stats import PostStats

REPORT_FORMATS = ("pdf", "xlsx")
REPORT_TITLE = "Agora publishing report"


@dataclass(frozen=True)
class ReportFigures:
    """What both formats show: the window, the totals, and the stats themselves."""

    stats: PostStats
    days: int
    first_day: date
    last_day: date
    generated_at: datetime
    posts: int
    comments: int
    comments_per_post: float
    busiest_day: tuple[date, int] | None

    @property
    def period(self) -> str:
        return f"{self.first_day.isoformat()} to {self.last_day.isoformat()} (UTC)"


def report_figures(stats: PostStats, *, days: int, generated_at: datetime) -> ReportFigures:
    per_day = [(date.fromisoformat(day["date"]), day["count"]) for day in stats["posts_per_day"]]
    # The earliest of the days with the most posts.
    busiest = max(per_day, key=lambda entry: (entry[1], -entry[0].toordinal()), default=None)
    return ReportFigures(
        stats=stats,
        days=days,
        first_day=per_day[0][0],
        last_day=per_day[-1][0],
        generated_at=generated_at,
        posts=sum(count for _, count in per_day),
        comments=stats["comments"]["total"],
        comments_per_post=stats["comments"]["per_post_avg"],
        busiest_day=busiest if busiest is not None and busiest[1] > 0 else None,
    )


def report_write(figures: ReportFigures, *, file_format: str, destination: BinaryIO) -> None:
    """Write the report in `file_format` (pdf or xlsx) to a binary file-like object."""
    if file_format == "pdf":
        from tasks.reports.pdf import report_pdf_write

        report_pdf_write(figures, destination)
    elif file_format == "xlsx":
        from tasks.reports.xlsx import report_xlsx_write

        report_xlsx_write(figures, destination)
    else:
        raise ValueError(f"Unknown report format {file_format!r}; one of {REPORT_FORMATS}.")
