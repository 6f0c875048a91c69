"""Domain errors of content: plain Python with a contract code (config.core.errors)."""

from __future__ import annotations

from config.core.errors import PermissionDenied


class NotAuthorOrAdmin(PermissionDenied):
    default_message = "Only the author or an administrator may change this."


class PostArchived(PermissionDenied):
    default_message = "This post is archived and takes no new comments."
