"""`thumbnail`: an image upload's 256 and 1024 px thumbnails, EXIF stripped, re-encoded.

Every image upload enqueues one (content.services.uploads); clients may ask again. The work is
content's `upload_thumbnails_make`, which is idempotent (a second run replaces the files).
"""

from __future__ import annotations

from typing import Any

from accounts.models import is_admin
from config.core.errors import ValidationFailed
from tasks.kinds import JobFailed, JobKind
from tasks.runner import JobContext


def clean(params: dict[str, Any], actor: Any) -> dict[str, Any]:
    from content.models import UploadKind
    from content.selectors import upload_get

    unknown = sorted(set(params) - {"upload"})
    if unknown:
        raise ValidationFailed({name: ["Unknown parameter."] for name in unknown})
    upload = upload_get(actor=actor, upload_id=str(params.get("upload", "")))
    if upload is None:
        raise ValidationFailed({"upload": ["No such upload."]})
    # Readers of a post see its attachments, but making thumbnails rewrites the upload's
    # files: its owner's (or an admin's) call, as deleting it is.
    if upload.owner_id != actor.pk and not is_admin(actor):
        raise ValidationFailed({"upload": ["Only the upload's owner may ask for its thumbnails."]})
    if upload.kind != UploadKind.IMAGE:
        raise ValidationFailed({"upload": ["Only images have thumbnails."]})
    return {"upload": str(upload.pk)}


def run(context: JobContext) -> dict[str, Any]:
    from content.representations import api_url, upload_thumbnail_path
    from content.services import upload_thumbnails_make

    upload_id = context.params["upload"]
    names = upload_thumbnails_make(upload_id=upload_id)
    if not names:
        raise JobFailed("The upload is gone or is not an image.")
    return {size: api_url(upload_thumbnail_path(upload_id, size)) for size in names}


KIND = JobKind(name="thumbnail", clean=clean, run=run, retries=3, retry_base_seconds=5.0)
