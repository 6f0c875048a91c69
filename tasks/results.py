"""Where job results are kept: Django's storage API (JOB_RESULT_STORAGE, a key of STORAGES),
so local files by default and any django-storages backend by setting."""

from __future__ import annotations

import uuid
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages

RESULT_DIRECTORY = "jobs"


def result_storage() -> Storage:
    return storages[settings.JOB_RESULT_STORAGE]


def result_save(*, job_id: uuid.UUID | str, filename: str, source: IO[bytes]) -> str:
    """Store a result file under the job's own folder; returns its storage name."""
    name = f"{RESULT_DIRECTORY}/{job_id}/{filename}"
    storage = result_storage()
    storage.delete(name)
    return storage.save(name, File(source, name=filename))


def result_delete(name: str) -> None:
    if name:
        result_storage().delete(name)
