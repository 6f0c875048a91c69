"""Writes of the content app: the one home of every post, comment and upload change."""

from content.services.bulk import posts_bulk_create, posts_bulk_delete, posts_bulk_update
from content.services.comments import (
    comment_create,
    comment_delete,
    comment_restore,
    comment_update,
)
from content.services.posts import post_create, post_delete, post_restore, post_update
from content.services.uploads import (
    CHUNK_MAX_BYTES,
    UploadNotFound,
    UploadProgress,
    upload_create,
    upload_delete,
    upload_session_append,
    upload_session_begin,
    upload_sessions_purge,
    upload_thumbnails_make,
)

__all__ = [
    "CHUNK_MAX_BYTES",
    "UploadNotFound",
    "UploadProgress",
    "comment_create",
    "comment_delete",
    "comment_restore",
    "comment_update",
    "post_create",
    "post_delete",
    "post_restore",
    "post_update",
    "posts_bulk_create",
    "posts_bulk_delete",
    "posts_bulk_update",
    "upload_create",
    "upload_delete",
    "upload_session_append",
    "upload_session_begin",
    "upload_sessions_purge",
    "upload_thumbnails_make",
]
