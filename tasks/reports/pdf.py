"""The stats report as a PDF: figures, a posts-per-day bar chart, the top authors."""

from __future__ import annotations

import math
from datetime import UTC
from typing import Any, BinaryIO

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from tasks.reports import REPORT_TITLE, ReportFigures
from tasks.reports.fonts import ReportFonts, is_degraded, markup, report_fonts

CHART_WIDTH = 170 * mm
CHART_HEIGHT = 70 * mm
# At most this many dates under the chart's bars; the others stay unlabelled.
CHART_LABELS_MAX = 8
ACCENT = colors.HexColor("#2f5d8a")


def report_pdf_write(figures: ReportFigures, destination: BinaryIO) -> None:
    fonts = report_fonts()
    styles = _styles(fonts)
    document = SimpleDocTemplate(
        destination,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=REPORT_TITLE,
        author="Agora",
        subject=f"Published posts, {figures.period}",
    )
    story: list[Any] = [
        Paragraph(REPORT_TITLE, styles["title"]),
        Paragraph(
            f"Published posts of the last {figures.days} days, {figures.period}. "
            f"Generated {figures.generated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC.",
            styles["body"],
        ),
        Spacer(1, 4 * mm),
        _figures_table(figures, fonts, styles),
        Spacer(1, 6 * mm),
        Paragraph("Posts per day", styles["heading"]),
        _chart(figures, fonts),
        Spacer(1, 6 * mm),
        Paragraph("Top authors", styles["heading"]),
        *_authors(figures, fonts, styles),
    ]
    document.build(
        story,
        onFirstPage=lambda canvas, doc: _footer(canvas, doc, fonts),
        onLaterPages=lambda canvas, doc: _footer(canvas, doc, fonts),
    )


def _styles(fonts: ReportFonts) -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName=fonts.regular, fontSize=10, leading=14)
    return {
        "title": ParagraphStyle(
            "title", parent=body, fontName=fonts.bold, fontSize=18, leading=24, spaceAfter=4
        ),
        "heading": ParagraphStyle(
            "heading", parent=body, fontName=fonts.bold, fontSize=13, leading=18, spaceAfter=4
        ),
        "body": body,
        "cell": ParagraphStyle("cell", parent=body, leading=12),
        "note": ParagraphStyle("note", parent=body, fontSize=8, leading=10, textColor=colors.grey),
    }


def _figures_table(figures: ReportFigures, fonts: ReportFonts, styles: dict[str, Any]) -> Table:
    busiest = (
        f"{figures.busiest_day[0].isoformat()} ({figures.busiest_day[1]} posts)"
        if figures.busiest_day is not None
        else "none"
    )
    rows = [
        ("Posts published", f"{figures.posts:,}"),
        ("Comments on them", f"{figures.comments:,}"),
        ("Comments per post", f"{figures.comments_per_post:.2f}"),
        ("Busiest day", busiest),
    ]
    table = Table(rows, colWidths=(55 * mm, 60 * mm), hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), fonts.regular),
                ("FONTNAME", (0, 0), (0, -1), fonts.bold),
                ("FONTSIZE", (0, 0), (-1, -1), 10),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return table


def _chart(figures: ReportFigures, fonts: ReportFonts) -> Drawing:
    per_day = figures.stats["posts_per_day"]
    counts = [day["count"] for day in per_day]
    drawing = Drawing(CHART_WIDTH, CHART_HEIGHT)
    chart = VerticalBarChart()
    chart.x, chart.y = 12 * mm, 14 * mm
    chart.width, chart.height = CHART_WIDTH - 16 * mm, CHART_HEIGHT - 20 * mm
    chart.data = [counts]
    chart.bars[0].fillColor = ACCENT
    chart.bars[0].strokeColor = None
    chart.barSpacing = 0
    chart.groupSpacing = 1 if len(counts) > 60 else 3
    every = math.ceil(len(per_day) / CHART_LABELS_MAX)
    chart.categoryAxis.categoryNames = [
        day["date"] if index % every == 0 else "" for index, day in enumerate(per_day)
    ]
    chart.categoryAxis.labels.fontName = fonts.regular
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 0
    chart.categoryAxis.tickDown = 2
    step = _step(max(counts, default=0))
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueStep = step
    chart.valueAxis.valueMax = step * max(1, math.ceil(max(counts, default=0) / step))
    chart.valueAxis.labelTextFormat = "%d"
    chart.valueAxis.labels.fontName = fonts.regular
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = colors.lightgrey
    drawing.add(chart)
    drawing.add(String(12 * mm, 3 * mm, "Days in UTC.", fontName=fonts.regular, fontSize=7))
    return drawing


def _step(top: int) -> int:
    """A round step (1, 2, 5, 10, 20, …) giving at most about five gridlines up to `top`."""
    if top <= 5:
        return 1
    magnitude = 10 ** math.floor(math.log10(top / 5))
    for factor in (1, 2, 5, 10):
        if top / (factor * magnitude) <= 5:
            return factor * magnitude
    return 10 * magnitude


def _authors(figures: ReportFigures, fonts: ReportFonts, styles: dict[str, Any]) -> list[Any]:
    authors = figures.stats["top_authors"]
    if not authors:
        return [Paragraph("No posts were published in this period.", styles["body"])]
    rows: list[tuple[Any, ...]] = [("#", "Author", "Posts")]
    for rank, author in enumerate(authors, start=1):
        name = Paragraph(markup(author["username"], fonts), styles["cell"])
        rows.append((str(rank), name, f"{author['post_count']:,}"))
    table = Table(rows, colWidths=(12 * mm, 110 * mm, 25 * mm), hAlign="LEFT", repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), fonts.regular),
                ("FONTNAME", (0, 0), (-1, 0), fonts.bold),
                ("FONTSIZE", (0, 0), (-1, -1), 10),
                ("ALIGN", (2, 0), (2, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, ACCENT),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.lightgrey),
            ]
        )
    )
    story: list[Any] = [table]
    if any(is_degraded(author["username"], fonts) for author in authors):
        story += [
            Spacer(1, 3 * mm),
            Paragraph(
                f"Characters shown as {fonts.replacement} have no font on this server (for "
                "example Chinese, Japanese or emoji); the XLSX report carries the exact names.",
                styles["note"],
            ),
        ]
    return story


def _footer(canvas: Any, document: Any, fonts: ReportFonts) -> None:
    canvas.saveState()
    canvas.setFont(fonts.regular, 8)
    canvas.setFillColor(colors.grey)
    canvas.drawString(document.leftMargin, 10 * mm, REPORT_TITLE)
    canvas.drawRightString(A4[0] - document.rightMargin, 10 * mm, f"Page {document.page}")
    canvas.restoreState()
