"""The stats report as a workbook: a summary sheet with a native column chart of posts per
day, the day-by-day figures the chart reads, and the top authors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import BinaryIO

import xlsxwriter

from tasks.reports import REPORT_TITLE, ReportFigures

SUMMARY_SHEET = "Report"
DAYS_SHEET = "Posts per day"
AUTHORS_SHEET = "Top authors"


def report_xlsx_write(figures: ReportFigures, destination: BinaryIO) -> None:
    from content.exports import spreadsheet_text

    workbook = xlsxwriter.Workbook(
        destination,
        {
            # Usernames stay text: no formulas, links or numbers made of them.
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    bold = workbook.add_format({"bold": True})
    title = workbook.add_format({"bold": True, "font_size": 16})
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    moment = workbook.add_format({"num_format": 'yyyy-mm-dd"T"hh:mm:ss"Z"'})
    decimal = workbook.add_format({"num_format": "0.00"})

    summary = workbook.add_worksheet(SUMMARY_SHEET)
    days = workbook.add_worksheet(DAYS_SHEET)
    authors = workbook.add_worksheet(AUTHORS_SHEET)

    summary.set_column(0, 0, 22)
    summary.set_column(1, 1, 22)
    summary.write_string(0, 0, REPORT_TITLE, title)
    summary.write_string(2, 0, "Days", bold)
    summary.write_number(2, 1, figures.days)
    summary.write_string(3, 0, "From (UTC)", bold)
    summary.write_datetime(3, 1, datetime.combine(figures.first_day, datetime.min.time()), day)
    summary.write_string(4, 0, "To (UTC)", bold)
    summary.write_datetime(4, 1, datetime.combine(figures.last_day, datetime.min.time()), day)
    summary.write_string(5, 0, "Generated (UTC)", bold)
    summary.write_datetime(
        5, 1, figures.generated_at.astimezone(UTC).replace(tzinfo=None, microsecond=0), moment
    )
    summary.write_string(6, 0, "Posts published", bold)
    summary.write_number(6, 1, figures.posts)
    summary.write_string(7, 0, "Comments on them", bold)
    summary.write_number(7, 1, figures.comments)
    summary.write_string(8, 0, "Comments per post", bold)
    summary.write_number(8, 1, figures.comments_per_post, decimal)
    summary.write_string(9, 0, "Busiest day", bold)
    if figures.busiest_day is not None:
        busiest, count = figures.busiest_day
        summary.write_datetime(9, 1, datetime.combine(busiest, datetime.min.time()), day)
        summary.write_number(9, 2, count)

    per_day = figures.stats["posts_per_day"]
    days.set_column(0, 0, 12)
    days.write_string(0, 0, "Date", bold)
    days.write_string(0, 1, "Posts", bold)
    for row, entry in enumerate(per_day, start=1):
        days.write_datetime(row, 0, datetime.fromisoformat(entry["date"]), day)
        days.write_number(row, 1, entry["count"])
    days.freeze_panes(1, 0)

    chart = workbook.add_chart({"type": "column"})
    chart.add_series(
        {
            "name": "Posts",
            "categories": [DAYS_SHEET, 1, 0, len(per_day), 0],
            "values": [DAYS_SHEET, 1, 1, len(per_day), 1],
            "fill": {"color": "#2F5D8A"},
            "gap": 30,
        }
    )
    chart.set_title({"name": "Posts per day"})
    chart.set_x_axis({"date_axis": True, "num_format": "mm-dd", "name": "Day (UTC)"})
    chart.set_y_axis({"name": "Posts", "min": 0, "major_gridlines": {"visible": True}})
    chart.set_legend({"none": True})
    chart.set_size({"width": 720, "height": 320})
    summary.insert_chart(11, 0, chart)

    authors.set_column(0, 0, 6)
    authors.set_column(1, 1, 30)
    authors.set_column(2, 2, 38)
    for column, name in enumerate(("#", "Username", "User id", "Posts")):
        authors.write_string(0, column, name, bold)
    for row, author in enumerate(figures.stats["top_authors"], start=1):
        authors.write_number(row, 0, row)
        authors.write_string(row, 1, spreadsheet_text(author["username"]))
        authors.write_string(row, 2, author["id"])
        authors.write_number(row, 3, author["post_count"])
    authors.freeze_panes(1, 0)
    workbook.close()
