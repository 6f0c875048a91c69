"""Domain errors of content: plain Python with a contract code (config.core.errors)."""

from __future__ import annotations

from config.core.errors import (
    DomainError,
    PayloadTooLarge,
    PermissionDenied,
    UnsupportedMediaType,
)


class NotAuthorOrAdmin(PermissionDenied):
    default_message = "Only the author or an administrator may change this."


class PostArchived(PermissionDenied):
    default_message = "This post is archived and takes no new comments."


class FileTooLarge(PayloadTooLarge):
    """An upload over UPLOAD_MAX_BYTES, declared or real; `details.limit_bytes` says the limit."""

    default_message = "The file is larger than this server accepts."


class FileTypeRefused(UnsupportedMediaType):
    default_message = (
        "Only JPEG, PNG, WebP and GIF images, PDF documents and plain UTF-8 text are accepted, "
        "recognised by their content."
    )


class ChecksumMismatch(DomainError):
    """The bytes of a chunked upload do not hash to its declared SHA-256; the upload starts
    over from byte 0."""

    code = "checksum_mismatch"
    default_message = (
        "The bytes received do not match the declared SHA-256; send the file again from offset 0."
    )
