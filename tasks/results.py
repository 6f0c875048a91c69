"""Where job results are kept: Django's storage API (JOB_RESULT_STORAGE, a key of STORAGES),
so local files by default and any django-storages backend by setting."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages

RESULT_DIRECTORY = "jobs"
# The files the kinds write, by suffix; the download's Content-Type and its OpenAPI document
# both come from here, so a new format is documented as soon as it is served.
RESULT_CONTENT_TYPES = {
    ".csv": "text/csv",
    ".json": "application/json",
    ".pdf": "application/pdf",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".txt": "text/plain",
    ".webp": "image/webp",
}
FALLBACK_CONTENT_TYPE = "application/octet-stream"


def result_storage() -> Storage:
    return storages[settings.JOB_RESULT_STORAGE]


def result_save(*, job_id: uuid.UUID | str, filename: str, source: IO[bytes]) -> str:
    """Store a result file under the job's own folder; returns its storage name."""
    name = f"{RESULT_DIRECTORY}/{job_id}/{filename}"
    storage = result_storage()
    storage.delete(name)
    return storage.save(name, File(source, name=filename))


def result_content_type(name: str) -> str:
    return RESULT_CONTENT_TYPES.get(PurePosixPath(name).suffix.lower(), FALLBACK_CONTENT_TYPE)


def result_delete(name: str) -> None:
    if name:
        result_storage().delete(name)
