"""Chunked uploads (the WebSocket's binary frames) through the services the consumer calls."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.test import override_settings
from django.utils import timezone

from accounts.exceptions import EmailNotVerified
from config.core.errors import NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from config.http.envelope import status_for
from content.exceptions import ChecksumMismatch
from content.models import Upload, UploadSession
from content.services import (
    CHUNK_MAX_BYTES,
    UploadProgress,
    upload_create,
    upload_session_append,
    upload_session_begin,
    upload_sessions_purge,
)
from tests.content.uploads import EXE, PDF, TEXT, image_bytes, png_header, sha256
from tests.factories import GuestFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("upload_storage")]


def _begin(actor: Any, data: bytes, **declared: Any) -> UploadProgress:
    fields = {
        "name": "notes.txt",
        "size": len(data),
        "content_type": "text/plain",
        "sha256": sha256(data),
        **declared,
    }
    return upload_session_begin(actor=actor, **fields)


def _send(actor: Any, upload_id: str, data: bytes, chunk: int, start: int = 0) -> UploadProgress:
    progress = UploadProgress(upload_id=upload_id, received=start)
    for offset in range(start, len(data), chunk):
        progress = upload_session_append(
            actor=actor, upload_id=upload_id, offset=offset, data=data[offset : offset + chunk]
        )
    return progress


def _partial(upload_id: str) -> Path:
    return Path(settings.UPLOAD_PARTIAL_DIR) / f"{upload_id}.part"


# --- begin ----------------------------------------------------------------------------------


def test_begin_gives_a_new_id_and_nothing_received(author: Any) -> None:
    progress = _begin(author, TEXT)

    assert progress.received == 0
    assert progress.upload is None
    assert progress.upload_id[14] == "7"
    session = UploadSession.objects.get(pk=progress.upload_id)
    assert (session.owner, session.size, session.sha256) == (author, len(TEXT), sha256(TEXT))
    assert _partial(progress.upload_id).exists()


@override_settings(UPLOAD_MAX_BYTES=100)
def test_a_declared_size_over_the_limit_is_refused_at_once(author: Any) -> None:
    with pytest.raises(PayloadTooLarge) as refused:
        _begin(author, TEXT, size=101, content_type="application/x-msdownload")

    assert refused.value.details == {"limit_bytes": 100}
    assert not UploadSession.objects.exists()


@pytest.mark.parametrize("content_type", ["text/html", "application/zip", "", None])
def test_a_declared_type_that_is_not_allowed_is_refused_at_once(
    author: Any, content_type: Any
) -> None:
    with pytest.raises(UnsupportedMediaType):
        _begin(author, TEXT, content_type=content_type)


def test_a_declared_type_is_read_without_its_parameters(author: Any) -> None:
    progress = _begin(author, TEXT, content_type="Text/Plain; charset=utf-8")

    assert UploadSession.objects.get(pk=progress.upload_id).content_type == "text/plain"


@pytest.mark.parametrize(
    ("declared", "field"),
    [
        ({"sha256": "abc"}, "sha256"),
        ({"sha256": "g" * 64}, "sha256"),
        ({"sha256": None}, "sha256"),
        ({"name": ""}, "name"),
        ({"name": "\u200b"}, "name"),
        ({"size": 0}, "size"),
        ({"size": -5}, "size"),
        ({"size": "12"}, "size"),
        ({"size": True}, "size"),
    ],
)
def test_bad_declarations_are_validation_errors(author: Any, declared: dict, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        _begin(author, TEXT, **declared)

    assert field in refused.value.details


def test_an_upper_case_hash_is_accepted(author: Any) -> None:
    progress = _begin(author, TEXT, sha256=sha256(TEXT).upper())

    assert _send(author, progress.upload_id, TEXT, 16).upload is not None


def test_a_guest_may_not_begin(db: None) -> None:
    with pytest.raises(EmailNotVerified):
        _begin(GuestFactory(), TEXT)


# --- append ---------------------------------------------------------------------------------


def test_chunks_in_order_make_the_upload_under_the_sessions_id(author: Any) -> None:
    data = image_bytes("PNG", (64, 48))
    progress = _begin(author, data, name="Straße.png", content_type="image/png")

    done = _send(author, progress.upload_id, data, chunk=100)

    assert done.received == len(data)
    upload = done.upload
    assert upload is not None
    assert str(upload.pk) == progress.upload_id
    assert (upload.name, upload.content_type, upload.kind) == ("Straße.png", "image/png", "image")
    assert (upload.size, upload.sha256) == (len(data), sha256(data))
    with default_storage.open(upload.file.name, "rb") as stored:
        assert stored.read() == data
    assert not UploadSession.objects.exists()
    assert not _partial(progress.upload_id).exists()


def test_progress_counts_the_bytes_received(author: Any) -> None:
    progress = _begin(author, TEXT)

    step = upload_session_append(
        actor=author, upload_id=progress.upload_id, offset=0, data=TEXT[:10]
    )

    assert (step.received, step.upload) == (10, None)


def test_the_upload_is_the_same_object_as_a_post_would_make(author: Any) -> None:
    posted = upload_create(actor=author, name="a.pdf", data=PDF)
    progress = _begin(author, PDF, name="a.pdf", content_type="application/pdf")

    chunked = _send(author, progress.upload_id, PDF, chunk=64).upload

    assert chunked is not None
    fields = ("name", "content_type", "size", "sha256", "kind", "owner_id")
    assert [getattr(chunked, f) for f in fields] == [getattr(posted, f) for f in fields]


def test_the_recognised_type_wins_over_the_declared_one(author: Any) -> None:
    data = image_bytes("JPEG")
    progress = _begin(author, data, name="x.png", content_type="image/png")

    upload = _send(author, progress.upload_id, data, chunk=1000).upload

    assert upload is not None
    assert upload.content_type == "image/jpeg"


def test_a_repeated_chunk_is_ignored(author: Any) -> None:
    progress = _begin(author, TEXT)
    upload_session_append(actor=author, upload_id=progress.upload_id, offset=0, data=TEXT[:10])

    again = upload_session_append(
        actor=author, upload_id=progress.upload_id, offset=0, data=TEXT[:10]
    )
    done = _send(author, progress.upload_id, TEXT, chunk=10, start=10)

    assert again.received == 10
    assert done.upload is not None
    assert done.upload.sha256 == sha256(TEXT)


def test_a_chunk_overlapping_what_was_received_adds_only_its_new_bytes(author: Any) -> None:
    progress = _begin(author, TEXT)
    upload_session_append(actor=author, upload_id=progress.upload_id, offset=0, data=TEXT[:10])

    step = upload_session_append(
        actor=author, upload_id=progress.upload_id, offset=5, data=TEXT[5:20]
    )

    assert step.received == 20
    assert _send(author, progress.upload_id, TEXT, 20, start=20).upload is not None


def test_a_gap_is_refused_and_says_where_to_go_on(author: Any) -> None:
    progress = _begin(author, TEXT)
    upload_session_append(actor=author, upload_id=progress.upload_id, offset=0, data=TEXT[:10])

    with pytest.raises(ValidationFailed) as refused:
        upload_session_append(
            actor=author, upload_id=progress.upload_id, offset=20, data=TEXT[20:30]
        )

    assert "10" in refused.value.details["offset"][0]
    assert UploadSession.objects.get(pk=progress.upload_id).received == 10


def test_a_resumed_upload_continues_where_it_stopped(author: Any) -> None:
    progress = _begin(author, TEXT)
    upload_session_append(actor=author, upload_id=progress.upload_id, offset=0, data=TEXT[:17])

    resumed = _begin(author, TEXT, upload_id=progress.upload_id)
    done = _send(author, progress.upload_id, TEXT, chunk=8, start=resumed.received)

    assert (resumed.upload_id, resumed.received) == (progress.upload_id, 17)
    assert done.upload is not None


def test_resuming_a_completed_upload_answers_the_upload(author: Any) -> None:
    progress = _begin(author, TEXT)
    _send(author, progress.upload_id, TEXT, chunk=1000)

    resumed = _begin(author, TEXT, upload_id=progress.upload_id)

    assert resumed.received == len(TEXT)
    assert resumed.upload is not None
    assert str(resumed.upload.pk) == progress.upload_id


def test_the_last_chunk_sent_again_answers_the_upload(author: Any) -> None:
    progress = _begin(author, TEXT)
    _send(author, progress.upload_id, TEXT, chunk=1000)

    again = upload_session_append(actor=author, upload_id=progress.upload_id, offset=0, data=TEXT)

    assert again.upload is not None
    assert Upload.objects.count() == 1


def test_resuming_with_another_hash_is_refused(author: Any) -> None:
    progress = _begin(author, TEXT)

    with pytest.raises(ValidationFailed) as refused:
        _begin(author, TEXT, upload_id=progress.upload_id, sha256=sha256(b"other"))

    assert set(refused.value.details) == {"upload_id"}


@pytest.mark.parametrize("upload_id", ["0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "not-an-id"])
def test_an_unknown_upload_id_is_not_found(author: Any, upload_id: str) -> None:
    with pytest.raises(NotFound):
        _begin(author, TEXT, upload_id=upload_id)
    with pytest.raises(NotFound):
        upload_session_append(actor=author, upload_id=upload_id, offset=0, data=b"x")


def test_another_users_upload_is_not_found(author: Any, other: Any) -> None:
    progress = _begin(author, TEXT)

    with pytest.raises(NotFound):
        _begin(other, TEXT, upload_id=progress.upload_id)
    with pytest.raises(NotFound):
        upload_session_append(actor=other, upload_id=progress.upload_id, offset=0, data=TEXT)
    assert UploadSession.objects.get(pk=progress.upload_id).received == 0


def test_another_users_completed_upload_is_not_found(author: Any, other: Any) -> None:
    progress = _begin(author, TEXT)
    _send(author, progress.upload_id, TEXT, chunk=1000)

    with pytest.raises(NotFound):
        _begin(other, TEXT, upload_id=progress.upload_id)


def test_a_checksum_mismatch_starts_the_upload_over(author: Any) -> None:
    progress = _begin(author, TEXT, sha256=sha256(b"something else"))

    with pytest.raises(ChecksumMismatch) as refused:
        _send(author, progress.upload_id, TEXT, chunk=16)

    assert refused.value.code == "checksum_mismatch"
    assert status_for(refused.value) == 400
    session = UploadSession.objects.get(pk=progress.upload_id)
    assert session.received == 0
    assert _partial(progress.upload_id).stat().st_size == 0
    assert not Upload.objects.exists()


def test_after_a_checksum_mismatch_the_right_bytes_complete_it(author: Any) -> None:
    corrupted = bytes([TEXT[0] ^ 1]) + TEXT[1:]
    progress = _begin(author, TEXT)
    with pytest.raises(ChecksumMismatch):
        _send(author, progress.upload_id, corrupted, chunk=16)

    done = _send(author, progress.upload_id, TEXT, chunk=16)

    assert done.upload is not None
    assert done.upload.sha256 == sha256(TEXT)


def test_more_bytes_than_declared_are_refused(author: Any) -> None:
    progress = _begin(author, TEXT, size=10, sha256=sha256(TEXT[:10]))

    with pytest.raises(ValidationFailed) as refused:
        upload_session_append(actor=author, upload_id=progress.upload_id, offset=0, data=TEXT)

    assert set(refused.value.details) == {"data"}
    assert UploadSession.objects.get(pk=progress.upload_id).received == 0


def test_a_declared_size_smaller_than_the_file_holds_a_hash_that_cannot_match(
    author: Any,
) -> None:
    progress = _begin(author, TEXT, size=10)

    with pytest.raises(ChecksumMismatch):
        upload_session_append(actor=author, upload_id=progress.upload_id, offset=0, data=TEXT[:10])


def test_final_bytes_of_a_refused_type_end_the_session(author: Any) -> None:
    progress = _begin(author, EXE, name="setup.txt", content_type="text/plain")

    with pytest.raises(UnsupportedMediaType):
        _send(author, progress.upload_id, EXE, chunk=16)

    assert not UploadSession.objects.exists()
    assert not _partial(progress.upload_id).exists()
    assert not Upload.objects.exists()
    with pytest.raises(NotFound):
        upload_session_append(actor=author, upload_id=progress.upload_id, offset=0, data=EXE)


def test_final_bytes_of_a_huge_image_are_a_validation_error_on_file(author: Any) -> None:
    data = png_header(10_000, 5_000)
    progress = _begin(author, data, name="huge.png", content_type="image/png")

    with pytest.raises(ValidationFailed) as refused:
        _send(author, progress.upload_id, data, chunk=1000)

    assert set(refused.value.details) == {"file"}
    assert not UploadSession.objects.exists()


@override_settings(UPLOAD_MAX_BYTES=64)
def test_a_limit_lowered_meanwhile_still_applies_to_the_final_bytes(author: Any) -> None:
    data = b"y" * 64
    progress = _begin(author, data)
    upload_session_append(actor=author, upload_id=progress.upload_id, offset=0, data=data[:32])

    with override_settings(UPLOAD_MAX_BYTES=40), pytest.raises(PayloadTooLarge):
        upload_session_append(actor=author, upload_id=progress.upload_id, offset=32, data=data[32:])


def test_a_chunk_over_256_kib_is_refused(author: Any) -> None:
    data = os.urandom(CHUNK_MAX_BYTES + 1)
    progress = _begin(author, data, name="big.bin")

    with pytest.raises(ValidationFailed) as refused:
        upload_session_append(actor=author, upload_id=progress.upload_id, offset=0, data=data)

    assert set(refused.value.details) == {"data"}


@pytest.mark.parametrize("offset", [-1, "0", None, 1.5])
def test_a_bad_offset_is_refused(author: Any, offset: Any) -> None:
    progress = _begin(author, TEXT)

    with pytest.raises(ValidationFailed) as refused:
        upload_session_append(actor=author, upload_id=progress.upload_id, offset=offset, data=b"x")

    assert set(refused.value.details) == {"offset"}


def test_lost_partial_bytes_are_asked_for_again(author: Any) -> None:
    progress = _begin(author, TEXT)
    upload_session_append(actor=author, upload_id=progress.upload_id, offset=0, data=TEXT[:20])
    _partial(progress.upload_id).unlink()

    resumed = _begin(author, TEXT, upload_id=progress.upload_id)

    assert resumed.received == 0
    assert _send(author, progress.upload_id, TEXT, chunk=20).upload is not None


# --- purge ----------------------------------------------------------------------------------


def test_sessions_idle_for_a_day_are_purged_with_their_bytes(author: Any) -> None:
    idle, fresh = _begin(author, TEXT), _begin(author, TEXT)
    UploadSession.objects.filter(pk=idle.upload_id).update(
        updated_at=timezone.now() - timedelta(hours=24, minutes=1)
    )

    purged = upload_sessions_purge()

    assert purged == 1
    assert list(UploadSession.objects.values_list("pk", flat=True)) == [
        UploadSession.objects.get(pk=fresh.upload_id).pk
    ]
    assert not _partial(idle.upload_id).exists()
    assert _partial(fresh.upload_id).exists()


def test_purge_removes_old_partial_files_no_session_owns(author: Any) -> None:
    live = _begin(author, TEXT)
    orphan = Path(settings.UPLOAD_PARTIAL_DIR) / "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b.part"
    orphan.write_bytes(b"left by a crash")
    old = (timezone.now() - timedelta(days=2)).timestamp()
    os.utime(orphan, (old, old))
    os.utime(_partial(live.upload_id), (old, old))

    upload_sessions_purge()

    assert not orphan.exists()
    assert _partial(live.upload_id).exists()


def test_the_purge_is_scheduled() -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE["upload-sessions-purge"]

    assert schedule["task"] == "tasks.upload_sessions_purge"
    assert schedule["schedule"] <= 24 * 3600


def test_the_purge_task_runs_the_service(author: Any) -> None:
    from tasks.tasks import upload_sessions_purge_task

    idle = _begin(author, TEXT)
    UploadSession.objects.filter(pk=idle.upload_id).update(
        updated_at=timezone.now() - timedelta(days=2)
    )

    assert upload_sessions_purge_task() == 1
