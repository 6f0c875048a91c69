"""Writes of uploads: whole files (POST uploads), chunked ones (the WebSocket), thumbnails, and
the uploads attached to posts.

Every file, whichever way it came, passes `upload_inspect`, the one place of the rules (API.md,
"Uploads"): the size limit first (413 whatever the type), then the type from the bytes alone
(415), then, for images, a full decode by Pillow under a pixel cap (400 on `file`). The stored
bytes are the client's; only thumbnails are re-encoded.

Chunked uploads: `upload_session_begin` declares name, size, type and SHA-256 and gets an id
(the future Upload's); `upload_session_append` takes the bytes at the offset received so far.
A retried chunk is harmless, a gap is refused, and a session whose last byte arrived is checked
like a POST and becomes the Upload. The bytes in between live in a file under
UPLOAD_PARTIAL_DIR, which every server process must share; sessions idle for a day are purged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from uuid_utils.compat import uuid7

from accounts.models import User
from accounts.validators import REFUSED_CATEGORIES
from audits.services import audit_changes, audit_record_write
from config.core.errors import DomainError, NotFound, ValidationFailed
from content import read_cache
from content.exceptions import ChecksumMismatch, FileTooLarge, FileTypeRefused
from content.images import ImageRefused, image_check, thumbnails_render
from content.models import (
    ATTACHMENTS_PER_POST_MAX,
    THUMBNAIL_SIZES,
    UPLOAD_NAME_MAX_LENGTH,
    Post,
    PostAttachment,
    Upload,
    UploadKind,
    UploadSession,
)
from content.selectors.uploads import upload_get
from content.selectors.visibility import parse_uuid
from content.services.common import after_commit, require_member, require_owner_or_admin
from content.sniffing import (
    EXTENSIONS,
    IMAGE_TYPES,
    PILLOW_FORMATS,
    declared_type_clean,
    sniff,
)
from tasks.services.jobs import job_create

logger = logging.getLogger("agora.content")

TARGET = "upload"
# The WebSocket protocol's largest chunk (API.md: up to 256 KiB of data per binary frame).
CHUNK_MAX_BYTES = 256 * 1024
SESSION_IDLE_LIMIT = timedelta(hours=24)
THUMBNAIL_DIRECTORY = "uploads/thumbnails"
_READ_CHUNK = 64 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


class UploadNotFound(NotFound):
    default_message = "No such upload."


@dataclass(frozen=True)
class UploadProgress:
    """Where a chunked upload stands: bytes `received`, and the Upload once it is complete."""

    upload_id: str
    received: int
    upload: Upload | None = None


@dataclass(frozen=True)
class Inspection:
    """What `upload_inspect` found a file to be."""

    content_type: str
    kind: str
    size: int
    sha256: str


# --- the rules ------------------------------------------------------------------------------


def upload_max_bytes() -> int:
    return settings.UPLOAD_MAX_BYTES


def upload_size_check(size: int) -> None:
    """Refuse a file over UPLOAD_MAX_BYTES (a declared or a real size)."""
    limit = upload_max_bytes()
    if size > limit:
        raise FileTooLarge(details={"limit_bytes": limit})


def upload_inspect(source: BinaryIO) -> Inspection:
    """The checks every upload passes, in the contract's order: size, type, image decoding.

    `source` is a seekable binary stream of the whole file; it is read from its start.
    """
    size = _stream_size(source)
    upload_size_check(size)
    if size == 0:
        raise ValidationFailed({"file": ["The file is empty."]})
    content_type = sniff(source)
    if content_type is None:
        raise FileTypeRefused()
    if content_type in IMAGE_TYPES:
        try:
            image_check(source, pillow_format=PILLOW_FORMATS[content_type])
        except ImageRefused as exc:
            raise ValidationFailed({"file": [exc.message]}) from None
    return Inspection(
        content_type=content_type,
        kind=UploadKind.IMAGE if content_type in IMAGE_TYPES else UploadKind.DOCUMENT,
        size=size,
        sha256=_sha256(source),
    )


def upload_name_clean(name: object) -> str:
    """The client's file name as kept for Content-Disposition: its last path segment, NFC,
    without control or invisible format characters, at most 255 characters (the extension
    kept). Never used as a storage name."""
    if not isinstance(name, str):
        raise ValidationFailed({"name": ["A file name is required."]})
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        " " if char.isspace() else char
        for char in name
        if unicodedata.category(char) not in REFUSED_CATEGORIES or char.isspace()
    ).strip()
    if len(name) > UPLOAD_NAME_MAX_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) < 16:
            name = stem[: UPLOAD_NAME_MAX_LENGTH - len(extension) - 1].rstrip() + dot + extension
        else:
            name = name[:UPLOAD_NAME_MAX_LENGTH].rstrip()
    if not name:
        raise ValidationFailed({"name": ["A file name is required."]})
    return name


# --- whole files ----------------------------------------------------------------------------


def upload_create(*, actor: User, name: str, data: BinaryIO | bytes) -> Upload:
    """Check and store one file (`data`: its bytes, or a binary stream of them).

    Raises FileTooLarge (413), FileTypeRefused (415), or ValidationFailed (400, on `file`
    for an empty file or a bad image, on `name` for a name with nothing printable).
    """
    require_member(actor)
    source = _seekable(data)
    try:
        return _upload_store(actor=actor, name=name, source=source)
    finally:
        if source is not data:
            source.close()


def upload_delete(*, actor: User, upload_id: uuid.UUID | str) -> None:
    """Delete an upload (owner or admin): it leaves every post it was attached to, and its
    file and thumbnails are deleted once that is committed. One the actor cannot see is
    UploadNotFound; one they see but do not own is NotAuthorOrAdmin."""
    require_member(actor)
    upload = upload_get(actor=actor, upload_id=upload_id)
    if upload is None:
        raise UploadNotFound()
    require_owner_or_admin(actor, upload.owner_id)
    with transaction.atomic():
        locked = Upload.objects.select_for_update().filter(pk=upload.pk).first()
        if locked is None:
            return
        post_ids = list(
            PostAttachment.objects.filter(upload_id=locked.pk).values_list("post_id", flat=True)
        )
        names = [locked.file.name, *locked.thumbnails.values()]
        locked.delete()
        audit_record_write(
            action="upload.deleted",
            target_type=TARGET,
            target_id=upload.pk,
            actor=actor,
            changes={"deleted": [False, True]},
        )
        after_commit(lambda: _stored_files_delete(names))
        for post_id in post_ids:
            after_commit(lambda post_id=post_id: read_cache.post_invalidate(post_id))


def _upload_store(
    *,
    actor: User,
    name: str,
    source: BinaryIO,
    upload_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
) -> Upload:
    """Inspect `source`, store it, and create its Upload (ending the chunked upload
    `session_id` in the same transaction). Raises _SessionGone when that session was ended
    meanwhile (by a concurrent completion)."""
    inspection = upload_inspect(source)
    upload = Upload(
        id=upload_id or uuid7(),
        owner=actor,
        name=upload_name_clean(name),
        content_type=inspection.content_type,
        size=inspection.size,
        sha256=inspection.sha256,
        kind=inspection.kind,
    )
    source.seek(0)
    content = source if isinstance(source, File) else File(source)
    upload.file.save(f"{upload.pk}{EXTENSIONS[upload.content_type]}", content, save=False)
    try:
        with transaction.atomic():
            if (
                session_id is not None
                and not UploadSession.objects.filter(pk=session_id).delete()[0]
            ):
                raise _SessionGone()
            upload.save(force_insert=True)
            audit_record_write(
                action="upload.created",
                target_type=TARGET,
                target_id=upload.pk,
                actor=actor,
                changes=audit_changes({}, _snapshot(upload)),
            )
            if upload.kind == UploadKind.IMAGE:
                # A job row in this transaction (the outbox): a broker outage delays the
                # thumbnails and never loses them, nor the stored upload's answer.
                job_create(
                    actor=actor, kind="thumbnail", params={"upload": str(upload.pk)}, notify=False
                )
    except BaseException:
        _stored_files_delete([upload.file.name])
        raise
    return upload


class _SessionGone(Exception):
    pass


def _snapshot(upload: Upload) -> dict[str, Any]:
    return {
        "name": upload.name,
        "content_type": upload.content_type,
        "size": upload.size,
        "sha256": upload.sha256,
        "kind": upload.kind,
    }


# --- chunked uploads ------------------------------------------------------------------------


def upload_session_begin(
    *,
    actor: User,
    name: str,
    size: int,
    content_type: str,
    sha256: str,
    upload_id: str | None = None,
) -> UploadProgress:
    """Start a chunked upload, or with `upload_id` resume one of the actor's.

    A new one is refused at once when its declared `size` is over the limit (FileTooLarge) or
    its declared `content_type` is none of the allowed (FileTypeRefused); a bad `sha256` (64
    hex digits), `size` or `name` is ValidationFailed. Resuming answers the bytes received so
    far (all of them, with the Upload, when it already completed); an unknown id, or another
    user's, is UploadNotFound; a `size` or `sha256` other than the session's (None: not
    compared) is ValidationFailed on `upload_id`.
    """
    require_member(actor)
    if upload_id is not None:
        return _session_resume(actor=actor, upload_id=upload_id, size=size, sha256=sha256)
    if _is_int(size):
        upload_size_check(size)
    declared = declared_type_clean(content_type)
    if declared is None:
        raise FileTypeRefused()
    errors: dict[str, list[str]] = {}
    try:
        name = upload_name_clean(name)
    except ValidationFailed as exc:
        errors.update(exc.details)
    if not _is_int(size) or size < 1:
        errors["size"] = ["The size is a whole number of bytes, at least 1."]
    digest = sha256.lower() if isinstance(sha256, str) else ""
    if not _SHA256.fullmatch(digest):
        errors["sha256"] = ["The SHA-256 of the whole file, as 64 hexadecimal digits."]
    if errors:
        raise ValidationFailed(errors)
    session = UploadSession.objects.create(
        owner=actor, name=name, size=size, content_type=declared, sha256=digest
    )
    path = _partial_path(session.pk)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return UploadProgress(upload_id=str(session.pk), received=0)


def upload_session_append(
    *, actor: User, upload_id: str, offset: int, data: bytes
) -> UploadProgress:
    """Take the chunk `data` at byte `offset` of the actor's chunked upload.

    `offset` must be the bytes received so far; a chunk that was already received (a retry)
    changes nothing and answers the current state, a chunk past a gap is ValidationFailed
    (on `offset`, saying where to go on from), and bytes beyond the declared size are
    ValidationFailed (on `data`). With the last byte the whole file is checked: a SHA-256
    other than the declared one is ChecksumMismatch (and the upload starts over from 0);
    then every check of `upload_create` applies, a refusal ending the session; else the
    Upload is created under the session's id and returned in `upload`. A session whose last
    byte arrived but whose completion never finished (a crash) completes when any chunk is
    sent again.

    Call it outside a transaction: a checksum mismatch must commit its restart.
    """
    pk = parse_uuid(upload_id) if isinstance(upload_id, str | uuid.UUID) else None
    if pk is None:
        raise UploadNotFound()
    if not _is_int(offset) or offset < 0:
        raise ValidationFailed({"offset": ["The offset is a whole number of bytes, at least 0."]})
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValidationFailed({"data": ["A chunk is bytes."]})
    if len(data) > CHUNK_MAX_BYTES:
        raise ValidationFailed({"data": [f"A chunk holds at most {CHUNK_MAX_BYTES} bytes."]})
    outcome = _chunk_write(actor=actor, pk=pk, offset=offset, data=bytes(data))
    if isinstance(outcome, UploadProgress):
        return outcome
    if outcome.received < outcome.size:
        return UploadProgress(upload_id=str(pk), received=outcome.received)
    return _session_complete(actor=actor, session=outcome)


def upload_sessions_purge(*, now: datetime | None = None) -> int:
    """Give up chunked uploads idle for SESSION_IDLE_LIMIT, and partial files no session
    owns any more (left by a crash); returns how many sessions ended."""
    cutoff = (now or timezone.now()) - SESSION_IDLE_LIMIT
    stale = list(UploadSession.objects.filter(updated_at__lt=cutoff).values_list("pk", flat=True))
    UploadSession.objects.filter(pk__in=stale, updated_at__lt=cutoff).delete()
    for pk in stale:
        _partial_path(pk).unlink(missing_ok=True)
    directory = Path(settings.UPLOAD_PARTIAL_DIR)
    if directory.is_dir():
        for path in directory.glob("*.part"):
            pk = parse_uuid(path.stem)
            modified = datetime.fromtimestamp(path.stat().st_mtime, tz=cutoff.tzinfo)
            if modified < cutoff and not UploadSession.objects.filter(pk=pk).exists():
                path.unlink(missing_ok=True)
    if stale:
        logger.info("upload sessions purged", extra={"count": len(stale)})
    return len(stale)


def _session_resume(*, actor: User, upload_id: Any, size: Any, sha256: Any) -> UploadProgress:
    pk = parse_uuid(upload_id) if isinstance(upload_id, str | uuid.UUID) else None
    if pk is None:
        raise UploadNotFound()
    with transaction.atomic():
        session = UploadSession.objects.select_for_update().filter(pk=pk, owner=actor).first()
        if session is None:
            upload = Upload.objects.select_related("owner").filter(pk=pk, owner=actor).first()
            if upload is None:
                raise UploadNotFound()
            return UploadProgress(upload_id=str(pk), received=upload.size, upload=upload)
        digest = sha256.lower() if isinstance(sha256, str) else sha256
        if (size is not None and size != session.size) or (
            digest is not None and digest != session.sha256
        ):
            raise ValidationFailed(
                {"upload_id": ["This upload was begun with another size or SHA-256."]}
            )
        _received_check(session)
    return UploadProgress(upload_id=str(pk), received=session.received)


@transaction.atomic
def _chunk_write(
    *, actor: User, pk: uuid.UUID, offset: int, data: bytes
) -> UploadSession | UploadProgress:
    """Write the new part of a chunk; the session as it then stands, or the answer when
    there is nothing more to do (a completed upload, whose last chunk came again)."""
    session = UploadSession.objects.select_for_update().filter(pk=pk, owner=actor).first()
    if session is None:
        upload = Upload.objects.select_related("owner").filter(pk=pk, owner=actor).first()
        if upload is None:
            raise UploadNotFound()
        return UploadProgress(upload_id=str(pk), received=upload.size, upload=upload)
    _received_check(session)
    if offset > session.received:
        raise ValidationFailed(
            {"offset": [f"Bytes are missing: go on from offset {session.received}."]}
        )
    fresh = data[session.received - offset :]
    if not fresh:
        return session
    if session.received + len(fresh) > session.size:
        raise ValidationFailed({"data": [f"More bytes than the declared size ({session.size})."]})
    with _partial_path(session.pk).open("r+b") as partial:
        partial.seek(session.received)
        partial.write(fresh)
    session.received += len(fresh)
    session.save(update_fields=["received", "updated_at"])
    return session


def _received_check(session: UploadSession) -> None:
    """The partial file is the truth about the bytes: if it holds fewer than the row says
    (lost, or never shared with this machine), what is missing must be sent again."""
    path = _partial_path(session.pk)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    on_disk = path.stat().st_size
    if on_disk < session.received:
        logger.warning(
            "partial upload shorter than recorded",
            extra={"upload_id": str(session.pk), "received": session.received, "on_disk": on_disk},
        )
        session.received = on_disk
        session.save(update_fields=["received", "updated_at"])


def _session_complete(*, actor: User, session: UploadSession) -> UploadProgress:
    path = _partial_path(session.pk)
    try:
        opened = path.open("rb")
    except FileNotFoundError:
        # A concurrent request with the same last chunk completed it a moment ago.
        upload = Upload.objects.select_related("owner").filter(pk=session.pk).first()
        if upload is None:
            raise UploadNotFound() from None
        return UploadProgress(upload_id=str(session.pk), received=upload.size, upload=upload)
    with opened as source:
        if _sha256(source) != session.sha256:
            _session_restart(session.pk)
            raise ChecksumMismatch()
        try:
            upload = _upload_store(
                actor=actor,
                name=session.name,
                source=source,
                upload_id=session.pk,
                session_id=session.pk,
            )
        except _SessionGone:
            upload = Upload.objects.select_related("owner").get(pk=session.pk)
        except DomainError:
            # Bytes that fail a check never will: the session ends with the refusal.
            UploadSession.objects.filter(pk=session.pk).delete()
            path.unlink(missing_ok=True)
            raise
    path.unlink(missing_ok=True)
    return UploadProgress(upload_id=str(session.pk), received=upload.size, upload=upload)


def _session_restart(pk: uuid.UUID) -> None:
    UploadSession.objects.filter(pk=pk).update(received=0, updated_at=timezone.now())
    with _partial_path(pk).open("r+b") as partial:
        partial.truncate(0)


def _partial_path(pk: uuid.UUID) -> Path:
    return Path(settings.UPLOAD_PARTIAL_DIR) / f"{pk}.part"


# --- thumbnails -----------------------------------------------------------------------------


def upload_thumbnails_make(*, upload_id: str) -> dict[str, str]:
    """Make an image upload's thumbnails (THUMBNAIL_SIZES, longest side) and record them.

    The work of the `thumbnail` job kind (tasks.kinds.thumbnail), which every image upload
    enqueues. Idempotent: a second run replaces the thumbnails. Returns
    `{"256": storage name, "1024": …}`, empty when the upload is gone or not an image.
    """
    pk = parse_uuid(upload_id)
    upload = Upload.objects.filter(pk=pk, kind=UploadKind.IMAGE).first() if pk else None
    if upload is None:
        return {}
    with upload.file.open("rb") as source:
        rendered = thumbnails_render(
            source, pillow_format=PILLOW_FORMATS[upload.content_type], sizes=THUMBNAIL_SIZES
        )
    names: dict[str, str] = {}
    for size, data in rendered.items():
        name = f"{THUMBNAIL_DIRECTORY}/{upload.pk}-{size}.webp"
        default_storage.delete(name)
        names[str(size)] = default_storage.save(name, ContentFile(data))
    if not Upload.objects.filter(pk=upload.pk).update(thumbnails=names):
        _stored_files_delete(list(names.values()))
        return {}
    post_ids = PostAttachment.objects.filter(upload_id=upload.pk).values_list("post_id", flat=True)
    for post_id in post_ids:
        read_cache.post_invalidate(post_id)
    return names


# --- attachments ----------------------------------------------------------------------------


def attachments_clean(
    *, actor: User, upload_ids: Sequence[Any], post: Post | None = None
) -> list[Upload]:
    """The uploads of `upload_ids` (duplicates dropped, order kept) that the actor may attach:
    their own, or those `post` already shows. Anything else is ValidationFailed on
    `attachments`."""
    ids: list[uuid.UUID] = []
    for raw in upload_ids:
        pk = parse_uuid(raw) if isinstance(raw, str | uuid.UUID) else None
        if pk is None:
            raise ValidationFailed({"attachments": ["Each attachment is an upload id."]})
        if pk not in ids:
            ids.append(pk)
    if len(ids) > ATTACHMENTS_PER_POST_MAX:
        raise ValidationFailed(
            {"attachments": [f"At most {ATTACHMENTS_PER_POST_MAX} attachments per post."]}
        )
    if not ids:
        return []
    allowed = Q(owner_id=actor.pk)
    if post is not None:
        allowed |= Q(pk__in=PostAttachment.objects.filter(post_id=post.pk).values("upload_id"))
    # Locked, so an upload deleted meanwhile cannot be attached (call within a transaction).
    uploads = Upload.objects.filter(allowed, pk__in=ids).select_related("owner")
    found = {upload.pk: upload for upload in uploads.select_for_update(of=("self",))}
    missing = [str(pk) for pk in ids if pk not in found]
    if missing:
        raise ValidationFailed({"attachments": [f"Not one of your uploads: {', '.join(missing)}."]})
    return [found[pk] for pk in ids]


def attachments_set(post: Post, uploads: list[Upload], *, replace: bool = True) -> None:
    """Make `uploads` the post's attachments, in this order (`replace=False`: a new post,
    which has none yet)."""
    if replace:
        PostAttachment.objects.filter(post_id=post.pk).delete()
    PostAttachment.objects.bulk_create(
        [
            PostAttachment(post_id=post.pk, upload_id=upload.pk, position=position)
            for position, upload in enumerate(uploads)
        ]
    )
    post.attachment_list = uploads


# --- helpers --------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _seekable(data: BinaryIO | bytes) -> BinaryIO:
    """`data` as a seekable stream: bytes wrapped, a stream that cannot seek copied (at most
    one byte over the limit, which is enough to refuse it)."""
    if isinstance(data, bytes | bytearray | memoryview):
        return ContentFile(bytes(data))
    if data.seekable():
        return data
    spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
    remaining = upload_max_bytes() + 1
    while remaining > 0 and (chunk := data.read(min(_READ_CHUNK, remaining))):
        spool.write(chunk)
        remaining -= len(chunk)
    spool.seek(0)
    return spool  # type: ignore[return-value]


def _stream_size(source: BinaryIO) -> int:
    source.seek(0, os.SEEK_END)
    size = source.tell()
    source.seek(0)
    return size


def _sha256(source: BinaryIO) -> str:
    source.seek(0)
    digest = hashlib.sha256()
    while chunk := source.read(_READ_CHUNK):
        digest.update(chunk)
    source.seek(0)
    return digest.hexdigest()


def _stored_files_delete(names: Sequence[str]) -> None:
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning(
                "could not delete a stored file", extra={"storage_name": name}, exc_info=True
            )
