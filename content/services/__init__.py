"""Writes of the content app: the one home of every post and comment change."""

from content.services.bulk import posts_bulk_create, posts_bulk_delete, posts_bulk_update
from content.services.comments import (
    comment_create,
    comment_delete,
    comment_restore,
    comment_update,
)
from content.services.posts import post_create, post_delete, post_restore, post_update

__all__ = [
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
]
