"""Reads of the content app, scoped to the caller."""

from content.selectors.comments import comment_get, comment_list
from content.selectors.posts import (
    parse_uuid,
    post_count_unfiltered,
    post_for_comments,
    post_get,
    post_list,
    post_search,
    post_visibility,
    public_post_detail,
    public_post_get,
    search_is_ranked,
    tag_names_attach,
)

__all__ = [
    "comment_get",
    "comment_list",
    "parse_uuid",
    "post_count_unfiltered",
    "post_for_comments",
    "post_get",
    "post_list",
    "post_search",
    "post_visibility",
    "public_post_detail",
    "public_post_get",
    "search_is_ranked",
    "tag_names_attach",
]
