"""The `report` job kind: params, the PDF (figures, chart, top authors in a font that draws
them, or a clear mark where no font can) and the XLSX (a native chart over the day-by-day
figures), run through the runner, cancellation, and the download."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from config.core.errors import ValidationFailed
from content.models import PostStatus
from tasks.kinds import kind_concurrency
from tasks.models import Job, JobStatus
from tasks.reports import fonts as report_font_module
from tasks.reports.fonts import ReportFonts, markup, text_runs
from tasks.results import result_storage
from tasks.runner import job_run
from tasks.services import job_cancel, job_create
from tasks.services import jobs as engine
from tests.content.factories import CommentFactory, PostFactory
from tests.factories import UserFactory, bearer
from tests.tasks.documents import (
    pdf_drawn_characters,
    pdf_fonts,
    pdf_page_count,
    pdf_text,
    xlsx_part,
    xlsx_rows,
    xlsx_sheet_names,
)

pytestmark = pytest.mark.django_db

WORKER = "test-worker"
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def fonts_found_anew() -> Iterator[None]:
    """The report looks for its fonts again in this test and after it."""
    report_font_module.report_fonts.cache_clear()
    yield
    report_font_module.report_fonts.cache_clear()


@pytest.fixture
def no_fallback_fonts(monkeypatch: pytest.MonkeyPatch, fonts_found_anew: None) -> None:
    """Only DejaVu Sans (Debian's fonts-dejavu-core), whatever else this machine has."""
    monkeypatch.setattr(report_font_module, "FALLBACK_FONTS", ())


@pytest.fixture
def no_fonts_at_all(monkeypatch: pytest.MonkeyPatch, fonts_found_anew: None) -> None:
    missing = Path("/nonexistent/fonts")
    monkeypatch.setattr(report_font_module, "MAIN_FONT", ("TestMissing", missing / "a.ttf"))
    monkeypatch.setattr(report_font_module, "MAIN_BOLD_FONT", ("TestMissingB", missing / "b.ttf"))
    monkeypatch.setattr(report_font_module, "FALLBACK_FONTS", ())


@pytest.fixture
def published() -> dict[str, Any]:
    """Posts of three authors with unicode names in the window, one comment each on two;
    a draft, an old post and a deleted one that the report must not count."""
    obrien = UserFactory(username="O'Brien")
    muller = UserFactory(username="Müller")
    lilei = UserFactory(username="李雷")
    posts = [
        *PostFactory.create_batch(3, author=obrien),
        *PostFactory.create_batch(2, author=muller),
        PostFactory(author=lilei),
    ]
    CommentFactory(post=posts[0])
    CommentFactory(post=posts[3])
    PostFactory(author=lilei, status=PostStatus.DRAFT)
    PostFactory(author=lilei, published_at=timezone.now() - timedelta(days=40))
    PostFactory(author=lilei, deleted=True)
    return {"authors": [obrien, muller, lilei], "posts": posts}


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(user))
    return client


def report_job(actor: Any = None, **params: Any) -> Job:
    return job_create(actor=actor or UserFactory(), kind="report", params=params)


def ran(job: Job) -> Job:
    job_run(job_id=str(job.pk), worker=WORKER)
    job.refresh_from_db()
    return job


def result_bytes(job: Job) -> bytes:
    with result_storage().open(job.result_file, "rb") as stored:
        return stored.read()


# --- params -----------------------------------------------------------------------------------


def test_params_default_to_a_pdf_of_thirty_days() -> None:
    assert report_job().params == {"file_format": "pdf", "days": 30}


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"file_format": "docx"}, "file_format"),
        ({"file_format": "csv"}, "file_format"),
        ({"file_format": ["pdf"]}, "file_format"),
        ({"days": 0}, "days"),
        ({"days": 366}, "days"),
        ({"days": -5}, "days"),
        ({"days": "30"}, "days"),
        ({"days": 1.5}, "days"),
        ({"days": True}, "days"),
        ({"days": None}, "days"),
        ({"top": 5}, "top"),
    ],
)
def test_a_bad_param_is_refused_under_its_name(params: dict[str, Any], name: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        report_job(**params)

    assert list(refused.value.details["params"]) == [name]


def test_bad_params_are_a_400_naming_each(user_client: APIClient) -> None:
    response = user_client.post(
        "/api/v1/jobs",
        {"kind": "report", "params": {"file_format": "png", "days": 400}},
        format="json",
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"]["params"] == {
        "days": ["A whole number from 1 to 365."],
        "file_format": ["One of: pdf, xlsx."],
    }


def test_the_kind_runs_at_most_two_at_once() -> None:
    assert kind_concurrency("report") == 2


# --- PDF --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_fallback_fonts")
def test_the_pdf_report_has_the_figures_and_the_authors_in_an_embedded_font(
    published: dict[str, Any],
) -> None:
    job = ran(report_job(days=7))

    assert job.status == JobStatus.SUCCEEDED
    assert job.result == {"file_format": "pdf", "days": 7, "posts": 6, "comments": 2}
    data = result_bytes(job)
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert pdf_page_count(data) == 1
    assert {"AAAAAA+DejaVuSans", "AAAAAA+DejaVuSans-Bold"} <= set(pdf_fonts(data))
    text = pdf_text(data)
    for line in (b"Posts per day", b"Top authors", b"O'Brien", b"Comments per post", b"0.33"):
        assert line in text


@pytest.mark.usefixtures("no_fallback_fonts")
def test_names_without_a_font_are_marked_and_explained(published: dict[str, Any]) -> None:
    data = result_bytes(ran(report_job(days=7)))

    drawn = pdf_drawn_characters(data)
    assert {"M", "ü", "\ufffd"} <= drawn  # Müller in DejaVu; 李雷 as replacement characters
    assert not {"李", "雷"} & drawn
    assert b"have no font on this server" in pdf_text(data)


@pytest.mark.usefixtures("no_fallback_fonts")
def test_a_report_of_names_every_font_draws_has_no_note() -> None:
    PostFactory(author=UserFactory(username="Ζωή_Müller"))

    data = result_bytes(ran(report_job(days=1)))

    assert {"Ζ", "ω", "ή", "ü"} <= pdf_drawn_characters(data)  # noqa: RUF001 - Greek, on purpose
    assert b"have no font on this server" not in pdf_text(data)


@pytest.mark.usefixtures("no_fonts_at_all")
def test_without_dejavu_the_pdf_falls_back_to_helvetica_and_question_marks(
    published: dict[str, Any],
) -> None:
    data = result_bytes(ran(report_job(days=7)))

    assert pdf_fonts(data) == ["Helvetica", "Helvetica-Bold"]
    text = pdf_text(data)
    assert b"\n??\n" in text  # 李雷
    assert b"M\\374ller" in text  # Latin-1 still drawn
    assert b"Characters shown as ? have no font on this server" in text


@pytest.mark.usefixtures("no_fallback_fonts")
def test_a_period_without_posts_says_so() -> None:
    data = result_bytes(ran(report_job(days=3)))

    text = pdf_text(data)
    assert b"No posts were published in this period." in text
    assert pdf_page_count(data) == 1


@pytest.mark.usefixtures("no_fallback_fonts")
def test_a_year_long_report_fits_its_page() -> None:
    PostFactory(published_at=timezone.now() - timedelta(days=200))

    job = ran(report_job(days=365))

    assert job.result["posts"] == 1
    assert pdf_page_count(result_bytes(job)) == 1


def test_user_text_is_split_into_runs_of_the_font_that_draws_it() -> None:
    fonts = ReportFonts(
        regular="Main",
        bold="Main-Bold",
        coverage={ord(character) for character in "Müler "},
        fallbacks=(("Cjk", {ord("李")}),),
        replacement="\ufffd",
    )

    assert list(text_runs("Müller 李雷🚀\x07", fonts)) == [
        (None, "Müller "),
        ("Cjk", "李"),
        (None, "\ufffd\ufffd"),
    ]


def test_user_text_is_escaped_for_paragraph_markup() -> None:
    fonts = ReportFonts("Main", "Main-Bold", set(map(ord, "<b/>&;amp O'Brien")), (), "?")

    assert markup("<b>O'Brien</b>&amp;", fonts) == "&lt;b&gt;O'Brien&lt;/b&gt;&amp;amp;"


# --- XLSX -------------------------------------------------------------------------------------


def test_the_xlsx_report_has_a_chart_over_the_days_and_the_exact_names(
    published: dict[str, Any],
) -> None:
    formula_like = UserFactory(username="=cmd")
    PostFactory(author=formula_like)

    job = ran(report_job(file_format="xlsx", days=7))

    assert job.result == {"file_format": "xlsx", "days": 7, "posts": 7, "comments": 2}
    data = result_bytes(job)
    assert xlsx_sheet_names(data) == ["Report", "Posts per day", "Top authors"]
    days = xlsx_rows(data, sheet=2)
    assert days[0] == ["Date", "Posts"]
    assert [row[1] for row in days[1:]] == [0.0] * 6 + [7.0]
    authors = xlsx_rows(data, sheet=3)
    assert [row[1] for row in authors] == ["Username", "O'Brien", "Müller", "'=cmd", "李雷"]
    assert [row[3] for row in authors[1:]] == [3.0, 2.0, 1.0, 1.0]
    chart = xlsx_part(data, "xl/charts/chart1.xml")
    assert "<c:barChart>" in chart
    assert "'Posts per day'!$B$2:$B$8" in chart
    summary = xlsx_rows(data, sheet=1)
    assert ["Posts published", 7.0] in summary
    assert ["Comments on them", 2.0] in summary


# --- cancellation and download ----------------------------------------------------------------


def test_a_cancelled_report_stores_no_file(
    monkeypatch: pytest.MonkeyPatch, media_root: Path
) -> None:
    job = report_job()
    report = engine.job_progress_report

    def cancelled_first(*, job: Job, progress: int) -> None:
        job_cancel(actor=job.owner, job_id=job.pk)
        report(job=job, progress=progress)

    monkeypatch.setattr(engine, "job_progress_report", cancelled_first)

    assert job_run(job_id=str(job.pk), worker=WORKER) == "cancelled"
    assert [path for path in media_root.rglob("*") if path.is_file()] == []


@pytest.mark.parametrize("file_format", ["pdf", "xlsx"])
def test_the_owner_downloads_the_report(file_format: str) -> None:
    member = UserFactory()
    job = ran(report_job(member, file_format=file_format))

    response = client_for(member).get(f"/api/v1/jobs/{job.pk}/result")

    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPES[file_format]
    assert b"".join(response.streaming_content) == result_bytes(job)


def test_someone_else_cannot_download_the_report_and_an_expired_one_is_gone() -> None:
    member = UserFactory()
    job = ran(report_job(member))
    Job.objects.filter(pk=job.pk).update(result_expires_at=timezone.now() - timedelta(seconds=1))

    other = client_for(UserFactory()).get(f"/api/v1/jobs/{job.pk}/result")
    expired = client_for(member).get(f"/api/v1/jobs/{job.pk}/result")

    assert (other.status_code, other.json()["error"]["code"]) == (404, "not_found")
    assert (expired.status_code, expired.json()["error"]["code"]) == (410, "gone")
